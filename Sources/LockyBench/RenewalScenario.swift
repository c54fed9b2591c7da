import ArgumentParser
import Locky
import LockyRESP
import LockyRedis

/// `renewal`: many leases kept alive by one client's renewal loop.
struct RenewalScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renewal",
        abstract: "10,000 leases auto-renewed by one client for 60 s (TTL 3 s): losses, commands per tick, memory."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Leases to hold.")
    var leases = 10_000

    @Option(help: "Seconds to hold them.")
    var hold: Double = 60

    @Option(help: "Lease TTL in seconds.")
    var ttl: Double = 3

    func validate() throws {
        // `--hold 0` made commands per tick 0/0: NaN, and the JSON silently empty.
        try BenchValidation.positive(leases, "--leases")
        try BenchValidation.positive(hold, "--hold")
        try BenchValidation.positive(ttl, "--ttl")
    }

    func run() async throws {
        try await LockBench.withBench(options) { bench in
            let ttl = Duration.milliseconds(Int64(self.ttl * 1000))
            let count = leases
            let held = try await withThrowingTaskGroup(of: [Lease].self) { group in
                let tasks = 32
                for task in 0..<tasks {
                    group.addTask {
                        var mine: [Lease] = []
                        for index in stride(from: task, to: count, by: tasks) {
                            mine.append(try await bench.locks.tryAcquire("renew-\(index)", ttl: ttl))
                        }
                        return mine
                    }
                }
                var all: [Lease] = []
                for try await part in group { all += part }
                return all
            }
            let before = try await evalshaCalls(bench.redis)
            let rssBefore = ResidentMemory.megabytes()
            let lost = try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask {
                    try await bench.locks.run()
                    return 0
                }
                for lease in held { try bench.locks.startRenewing(lease) }
                try await Task.sleep(for: .milliseconds(Int64(hold * 1000)))
                let lost = held.filter { $0.lossReason != nil || !$0.isValid }.count
                group.cancelAll()
                return lost
            }
            let after = try await evalshaCalls(bench.redis)
            // Released and their fence counters deleted: with --url, leases left to run out their
            // TTL made a second run's acquires fail.
            try await release(held, bench)
            let ticks = hold / (self.ttl / 3)
            var report = BenchReport(scenario: "renewal")
            report.add("leases", Double(count))
            report.add("lost", Double(lost))
            report.add("renew_commands", Double(after - before))
            report.add("commands_per_tick", Double(after - before) / ticks)
            report.add("rss_mb", ResidentMemory.megabytes())
            report.add("rss_mb_at_start", rssBefore)
            report.add("seconds", hold)
            try report.print(json: options.json)
        }
    }

    private func release(_ held: [Lease], _ bench: LockBench) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let tasks = 32
            for task in 0..<tasks {
                group.addTask {
                    for index in stride(from: task, to: held.count, by: tasks) {
                        _ = try await bench.locks.release(held[index])
                    }
                }
            }
            try await group.waitForAll()
        }
        let keyspace = try LockKeyspace(prefix: "locky:bench:")
        for start in stride(from: 0, to: leases, by: 1000) {
            var command = RESPCommand("DEL")
            command.append(contentsOf: (start..<min(start + 1000, leases)).map { keyspace.fenceKey("renew-\($0)") })
            _ = try await bench.redis.execute(command)
        }
    }

    private func evalshaCalls(_ redis: RedisClient) async throws -> Int {
        let info = try await redis.execute(RESPCommand("INFO", "commandstats"))
        let text = (try? info.decode(as: String.self)) ?? ""
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_evalsha:") {
            for field in line.dropFirst("cmdstat_evalsha:".count).split(separator: ",") where field.hasPrefix("calls=") {
                return Int(field.dropFirst("calls=".count)) ?? 0
            }
        }
        return 0
    }
}
