import ArgumentParser
import Foundation
import Locky
import LockyRESP
import LockyRedis
import NIOCore

/// `handoff`: 8 OS processes contend for one resource; each holds it ~1 ms doing a
/// read-modify-write of a counter (GET, sleep 1 ms, SET value+1), then works 5 ms outside it.
struct HandoffScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handoff",
        abstract: "8 processes contend for one lock: hand-off gap, wait, fairness and a mutual-exclusion check."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Worker processes.")
    var workers = 8

    @Flag(help: "Fair mode: waiters acquire in arrival order across processes.")
    var fair = false

    @Flag(help: "Run each worker's loop on its connection's event loop (no thread hop per call).")
    var onLoop = false

    func validate() throws {
        try BenchValidation.positive(workers, "--workers")
    }

    func run() async throws {
        try await BenchServer.with(options) { try await measure($0) }
    }

    private func measure(_ server: BenchServer) async throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var processes: [(Process, Pipe)] = []
        for index in 0..<workers {
            let process = Process()
            process.executableURL = executable
            var arguments = [
                "handoff-worker", "--url", server.url, "--seconds", String(options.seconds), "--worker", String(index),
            ]
            if fair { arguments.append("--fair") }
            if onLoop { arguments.append("--on-loop") }
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            processes.append((process, pipe))
        }
        var records: [HandoffRecord] = []
        var perWorker: [Int] = []
        for (process, pipe) in processes {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
            var count = 0
            for line in lines {
                let fields = line.split(separator: " ").compactMap { Int64($0) }
                guard fields.count == 3 else { continue }
                records.append(HandoffRecord(acquired: fields[0], releasing: fields[1], waited: fields[2]))
                count += 1
            }
            perWorker.append(count)
        }
        records.sort { $0.acquired < $1.acquired }
        var gaps: [Double] = []
        for (previous, next) in zip(records, records.dropFirst()) where next.acquired > previous.releasing {
            // Only a real hand-off: the next holder was waiting when the previous one released.
            if next.acquired - next.waited < previous.releasing {
                gaps.append(Double(next.acquired - previous.releasing) / 1e6)
            }
        }
        let client = try RedisClient(url: server.url)
        let counter = try await client.execute(RESPCommand("GET", "locky:bench:handoff:counter"))
        await client.close()
        let counterValue = (try? counter.decode(as: Int.self)) ?? -1

        var report = BenchReport(scenario: fair ? "handoff-fair" : "handoff")
        report.add("acquisitions", Double(records.count))
        report.add("counter", Double(counterValue))
        report.add("counter_ok", counterValue == records.count ? 1 : 0)
        report.add("gap_p50_ms", percentile(gaps, 50))
        report.add("gap_p99_ms", percentile(gaps, 99))
        report.add("wait_p50_ms", percentile(records.map { Double($0.waited) / 1e6 }, 50))
        report.add("wait_p99_ms", percentile(records.map { Double($0.waited) / 1e6 }, 99))
        report.add("hold_p50_ms", percentile(records.map { Double($0.releasing - $0.acquired) / 1e6 }, 50))
        let fewest = perWorker.min() ?? 0
        let most = perWorker.max() ?? 1
        report.add("fairness", most > 0 ? Double(fewest) / Double(most) : 0)
        report.add("workers", Double(workers))
        try report.print(json: options.json)
    }

    private func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[rank]
    }
}

struct HandoffRecord {
    let acquired: Int64
    let releasing: Int64
    let waited: Int64
}

/// One worker process of `handoff` (started by it; prints `acquired releasing waited` lines).
struct HandoffWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "handoff-worker", shouldDisplay: false)

    @Option var url: String
    @Option var seconds: Double
    @Option var worker: Int
    @Flag var fair = false
    @Flag var onLoop = false

    func run() async throws {
        let redis = try RedisClient(url: url)
        let locks = try LockClient(
            backend: RedisLockBackend(client: redis, keyspace: LockKeyspace(prefix: "locky:bench:")),
            configuration: LockyConfiguration(label: "worker-\(worker)"),
            tracer: nil
        )
        let counterKey = "locky:bench:handoff:counter"
        let end = Monotonic.nanoseconds() + Int64(seconds * 1e9)
        // The workload's sleeps run on NIO's timer (a timerfd on the connection's loop).
        // `Task.sleep` (a dispatch timer, then a thread hop) made the 1 ms hold 0.1–0.2 ms longer
        // at p50 and far longer in the tail, so every wait measured more than this workload.
        @Sendable func sleep(milliseconds: Int64) async throws {
            try await redis.eventLoop.scheduleTask(in: .milliseconds(milliseconds)) {}.futureResult.get()
        }
        let loop: () async throws -> String = {
            var output = ""
            while Monotonic.nanoseconds() < end {
                let before = Monotonic.nanoseconds()
                let lease = try await locks.acquire("handoff", ttl: .seconds(5), timeout: .seconds(60), fair: fair)
                let acquired = Monotonic.nanoseconds()
                let value = try await redis.execute(RESPCommand("GET", counterKey))
                let current = (try? value.decode(as: Int.self)) ?? 0
                try await sleep(milliseconds: 1)
                _ = try await redis.execute(RESPCommand("SET", counterKey, current + 1))
                let releasing = Monotonic.nanoseconds()
                _ = try await locks.release(lease)
                output += "\(acquired) \(releasing) \(acquired - before)\n"
                try await sleep(milliseconds: 5)
            }
            return output
        }
        let output = onLoop ? try await withTaskExecutorPreference(redis.taskExecutor, operation: loop) : try await loop()
        FileHandle.standardOutput.write(Data(output.utf8))
        await redis.close()
    }
}
