import ArgumentParser
import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Synchronization

/// `redlock`: acquire + release cycles on Redlock with 1, 3 and 5 nodes, against the fan-out
/// floor: `SET NX PX`, then the release script, each sent to all 5 nodes at once over plain
/// connections (``RedisClient/execute(_:on:)``, one suspension per fan-out), waiting for every reply.
///
/// `orphaned_keys` counts the lock keys left on any node after the run. Every cycle locks a
/// resource of its own with a TTL longer than the run, so an orphan from any cycle is still there
/// to be counted, and two orphans never share a key. Counted keys (and the run's fence keys) are
/// deleted afterwards, so a run leaves nothing behind.
struct RedlockScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redlock",
        abstract: "Redlock acquire + release with 1, 3 and 5 nodes, vs SET NX PX + release fanned out to 5 bare connections."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Cycles per phase and round.")
    var cycles = 2000

    @Option(
        help:
            "Comma-separated URLs of 5 redis-servers to use instead of starting them (every locky:bench:* key there is counted, then deleted)."
    )
    var urls: String?

    /// The TTL of every lock of the run: longer than any run, so no orphan expires before the scan.
    static let lockTTL = Duration.seconds(600)

    func validate() throws {
        try BenchValidation.positive(cycles, "--cycles")
        if let urls, urls.split(separator: ",").count != 5 { throw ValidationError("--urls takes 5 URLs") }
    }

    func run() async throws {
        if let urls {
            try await measure(urls.split(separator: ",").map(String.init))
            return
        }
        let servers = try await RedisServer.startMany(5)
        do {
            try await measure(servers.map(\.url))
        } catch {
            for server in servers { await server.stop() }
            throw error
        }
        for server in servers { await server.stop() }
    }

    private func measure(_ urls: [String]) async throws {
        let started = ContinuousClock.now
        let keyspace = try LockKeyspace(prefix: "locky:bench:")
        // Every connection on one event loop, and the measuring task on it too (as RedlockBackend
        // sets itself up): the floor and Locky run under the same conditions.
        var bare: [RedisClient] = []
        for url in urls {
            let configuration = try RedisConfiguration(url: url)
            if let first = bare.first {
                bare.append(try RedisClient(configuration: configuration, eventLoopGroup: first.eventLoop))
            } else {
                bare.append(try RedisClient(configuration: configuration))
            }
        }
        for client in bare { _ = try await client.execute(LockBench.floorRelease.loadCommand) }
        var clients: [Int: LockClient] = [:]
        for count in [1, 3, 5] {
            let backend = try RedlockBackend(clients: Array(bare.prefix(count)), keyspace: keyspace)
            clients[count] = try LockClient(backend: backend, configuration: LockyConfiguration(retry: .never), tracer: nil)
        }
        let single = try LockClient(
            backend: RedisLockBackend(client: bare[0], keyspace: keyspace), configuration: LockyConfiguration(retry: .never),
            tracer: nil)
        let names = CycleNames()
        let singleCycle: @Sendable () async throws -> Void = {
            let lease = try await single.tryAcquire(names.next("redis"), ttl: Self.lockTTL)
            _ = try await single.release(lease)
        }
        let nodes = bare
        let sha = LockBench.floorRelease.sha1
        // The floor: the same fan-out primitive Redlock uses, with the cheapest commands.
        let floorCycle: @Sendable () async throws -> Void = {
            for result in await RedisClient.execute(
                RESPCommand("SET", "locky:bench:{floor}", "owner", "NX", "PX", 30_000), on: nodes)
            {
                _ = try result.get()
            }
            for result in await RedisClient.execute(RESPCommand("EVALSHA", sha, 1, "locky:bench:{floor}", "owner"), on: nodes) {
                _ = try result.get()
            }
        }
        func cycle(_ count: Int) -> @Sendable () async throws -> Void {
            guard let client = clients[count] else { return {} }
            let prefix = "redlock-\(count)"
            return {
                let lease = try await client.tryAcquire(names.next(prefix), ttl: Self.lockTTL)
                _ = try await client.release(lease)
            }
        }
        let (floor, redis, results, ratios5to1, ratiosFloor) = try await withTaskExecutorPreference(bare[0].taskExecutor) {
            // Warm-up: connections, scripts, code paths.
            for _ in 0..<300 {
                try await floorCycle()
                try await singleCycle()
                for count in [1, 3, 5] { try await cycle(count)() }
            }
            var floor = RoundResults()
            var redis = RoundResults()
            var results: [Int: RoundResults] = [1: RoundResults(), 3: RoundResults(), 5: RoundResults()]
            var ratios5to1: [Double] = []
            var ratiosFloor: [Double] = []
            for _ in 0..<options.rounds {
                // Side by side in chunks of 100 cycles: floor and Locky see the same machine.
                let rounds = try await Workload.interleaved(
                    operations: cycles, chunk: 100, [floorCycle, singleCycle, cycle(1), cycle(3), cycle(5)])
                let floorRound = rounds[0]
                floor.add(floorRound)
                redis.add(rounds[1])
                var p50: [Int: Double] = [:]
                for (position, count) in [1, 3, 5].enumerated() {
                    let round = rounds[position + 2]
                    results[count]?.add(round)
                    p50[count] = round.0.percentileMicroseconds(50)
                }
                if let one = p50[1], let five = p50[5], five > 0 {
                    ratios5to1.append(five / one)
                    ratiosFloor.append(floorRound.0.percentileMicroseconds(50) / five)
                }
            }
            return (floor, redis, results, ratios5to1, ratiosFloor)
        }
        let elapsed = ContinuousClock.now - started
        var orphaned = 0
        for client in bare {
            let keys = try await Self.benchKeys(on: client)
            orphaned += keys.filter(Self.isLockKey).count
            // Cleared once counted: the next run on these servers starts from nothing.
            for start in stride(from: 0, to: keys.count, by: 1000) {
                var command = RESPCommand("DEL")
                command.append(contentsOf: keys[start..<min(start + 1000, keys.count)])
                _ = try await client.execute(command)
            }
        }
        for client in clients.values { await client.close() }
        await single.close()
        for client in bare { await client.close() }

        var report = BenchReport(scenario: "redlock")
        for count in [1, 3, 5] {
            report.add("p50_us_\(count)", results[count]?.latencies.percentileMicroseconds(50) ?? 0)
            report.add("p99_us_\(count)", results[count]?.latencies.percentileMicroseconds(99) ?? 0)
        }
        report.add("p50_us_redis_backend", redis.latencies.percentileMicroseconds(50))
        report.add("cycles_per_s_1", results[1]?.medianRate ?? 0)
        report.add("cycles_per_s_5", results[5]?.medianRate ?? 0)
        report.add("floor_p50_us_5", floor.latencies.percentileMicroseconds(50))
        report.add("floor_cycles_per_s_5", floor.medianRate)
        report.add("p50_ratio_5_to_1", median(ratios5to1))
        report.add("floor_to_p50_5", median(ratiosFloor))
        report.add("orphaned_keys", Double(orphaned))
        report.add("rounds", Double(options.rounds))
        report.add("run_s", elapsed.seconds)
        report.require(orphaned == 0, "\(orphaned) lock keys left on the nodes")
        // Beyond the TTL, an orphan of the first cycles could have expired unseen.
        report.require(elapsed < Self.lockTTL, "the run outlasted the lock TTL: orphans may have expired")
        try report.print(json: options.json)
    }

    /// Every key under the bench prefix on `client`'s server.
    static func benchKeys(on client: RedisClient) async throws -> [String] {
        var keys: [String] = []
        var cursor = "0"
        repeat {
            let reply = try await client.execute(RESPCommand("SCAN", cursor, "MATCH", "locky:bench:*", "COUNT", 1000))
            guard case .array(let parts) = reply.value else { break }
            var iterator = parts.makeIterator()
            cursor = (try iterator.next()?.decode(as: String.self)) ?? "0"
            if case .array(let found)? = iterator.next()?.value {
                keys += found.compactMap { try? $0.decode(as: String.self) }
            }
        } while cursor != "0"
        return keys
    }

    /// A lock key, not a fence counter, a fair queue or waiters, or the floor's own key.
    static func isLockKey(_ key: String) -> Bool {
        !key.hasSuffix(":fence") && !key.hasSuffix(":queue") && !key.hasSuffix(":waiters") && key != "locky:bench:{floor}"
    }
}

/// Resource names no cycle shares: `<prefix>-<n>`, n counting up over the run.
final class CycleNames: Sendable {
    private let counter = Atomic<Int>(0)

    func next(_ prefix: String) -> String {
        "\(prefix)-\(counter.add(1, ordering: .relaxed).newValue)"
    }
}
