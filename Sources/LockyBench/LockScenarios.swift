import ArgumentParser
import Locky
import LockyRESP
import LockyRedis

/// Shared set-up of the lock scenarios: a server, a lock client on it, and the floor commands.
struct LockBench {
    let server: BenchServer
    let redis: RedisClient
    let locks: LockClient
    let releaseSHA: String

    /// A compare-and-delete release, the cheapest owner-checked release there is: the floor's EVALSHA.
    static let floorRelease = RedisScript(
        name: "floor-release",
        source: "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"
    )

    static func withBench<T>(_ options: BenchOptions, _ body: (LockBench) async throws -> T) async throws -> T {
        try await BenchServer.with(options) { server in
            let redis = try RedisClient(url: server.url)
            let locks = try LockClient(
                backend: RedisLockBackend(client: redis, keyspace: LockKeyspace(prefix: "locky:bench:")),
                configuration: LockyConfiguration(retry: .never),
                tracer: nil
            )
            do {
                _ = try await redis.execute(Self.floorRelease.loadCommand)
                let result = try await body(
                    LockBench(server: server, redis: redis, locks: locks, releaseSHA: Self.floorRelease.sha1))
                await redis.close()
                return result
            } catch {
                // A run that failed its checks still closes its connection before the server stops.
                await redis.close()
                throw error
            }
        }
    }

    /// 1 / (1/SET NX rate + 1/EVALSHA rate): the best possible acquire + release cycle rate.
    func floorCycles(clients: Int, requests: Int) throws -> (cycles: Double, setNX: Double, evalSHA: Double) {
        let set = try RedisBenchmarkFloor.run(
            host: server.host, port: server.port, clients: clients, requests: requests,
            command: ["SET", "locky:bench:floor", "owner", "NX", "PX", "30000"]
        )
        let eval = try RedisBenchmarkFloor.run(
            host: server.host, port: server.port, clients: clients, requests: requests,
            command: ["EVALSHA", releaseSHA, "1", "locky:bench:floor2", "owner"]
        )
        return (1 / (1 / set.requestsPerSecond + 1 / eval.requestsPerSecond), set.requestsPerSecond, eval.requestsPerSecond)
    }
}

/// `uncontended`: one task, acquire + release cycles on one resource.
struct UncontendedScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uncontended",
        abstract: "One task: tryAcquire + release on one resource, vs SET NX + EVALSHA from redis-benchmark -c 1."
    )

    @OptionGroup var options: BenchOptions

    func run() async throws {
        try await LockBench.withBench(options) { bench in
            let calibration = try bench.floorCycles(clients: 1, requests: 2000)
            let cycles = max(500, Int(calibration.cycles * options.measuredSeconds(default: 5) / Double(options.rounds)))
            let cycle: @Sendable () async throws -> Void = {
                let lease = try await bench.locks.tryAcquire("uncontended", ttl: .seconds(10))
                _ = try await bench.locks.release(lease)
            }
            for _ in 0..<500 { try await cycle() }
            var floors: [Double] = []
            var ours = RoundResults()
            var oursOnLoop = RoundResults()
            for _ in 0..<options.rounds {
                floors.append(try bench.floorCycles(clients: 1, requests: cycles).cycles)
                ours.add(try await Workload.sequential(operations: cycles, cycle))
                oursOnLoop.add(
                    try await withTaskExecutorPreference(bench.redis.taskExecutor) {
                        try await Workload.sequential(operations: cycles, cycle)
                    }
                )
            }
            var report = BenchReport(scenario: "uncontended")
            report.add("cycles_per_s", ours.medianRate)
            report.add("floor_cycles_per_s", median(floors))
            report.add("ratio", ours.medianRatio(to: floors))
            report.add("p50_us", ours.latencies.percentileMicroseconds(50))
            report.add("p99_us", ours.latencies.percentileMicroseconds(99))
            report.add("on_loop_cycles_per_s", oursOnLoop.medianRate)
            report.add("on_loop_ratio", oursOnLoop.medianRatio(to: floors))
            report.add("on_loop_p50_us", oursOnLoop.latencies.percentileMicroseconds(50))
            report.add("on_loop_p99_us", oursOnLoop.latencies.percentileMicroseconds(99))
            report.add("rounds", Double(options.rounds))
            try report.print(json: options.json)
        }
    }
}

/// `concurrent`: 64 tasks, each cycling on its own resource.
struct ConcurrentScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concurrent",
        abstract: "64 tasks, distinct resources: acquire + release cycles vs redis-benchmark -c 50."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Concurrent tasks.")
    var tasks = 64

    func validate() throws {
        try BenchValidation.positive(tasks, "--tasks")
    }

    func run() async throws {
        try await LockBench.withBench(options) { bench in
            let calibration = try bench.floorCycles(clients: 50, requests: 20_000)
            let cycles = max(tasks * 50, Int(calibration.cycles * options.measuredSeconds(default: 5) / Double(options.rounds)))
            let cycle: @Sendable (Int) async throws -> Void = { index in
                let lease = try await bench.locks.tryAcquire("concurrent-\(index)", ttl: .seconds(10))
                _ = try await bench.locks.release(lease)
            }
            var floors: [Double] = []
            var ours = RoundResults()
            var oursOnLoop = RoundResults()
            for _ in 0..<options.rounds {
                floors.append(try bench.floorCycles(clients: 50, requests: cycles).cycles)
                ours.add(try await Workload.concurrent(tasks: tasks, operationsPerTask: cycles / tasks, cycle))
                oursOnLoop.add(
                    try await Workload.concurrent(
                        tasks: tasks, operationsPerTask: cycles / tasks, executor: bench.redis.taskExecutor, cycle)
                )
            }
            var report = BenchReport(scenario: "concurrent")
            report.add("cycles_per_s", ours.medianRate)
            report.add("floor_cycles_per_s", median(floors))
            report.add("ratio", ours.medianRatio(to: floors))
            report.add("p50_us", ours.latencies.percentileMicroseconds(50))
            report.add("p99_us", ours.latencies.percentileMicroseconds(99))
            report.add("on_loop_cycles_per_s", oursOnLoop.medianRate)
            report.add("on_loop_ratio", oursOnLoop.medianRatio(to: floors))
            report.add("on_loop_p50_us", oursOnLoop.latencies.percentileMicroseconds(50))
            report.add("on_loop_p99_us", oursOnLoop.latencies.percentileMicroseconds(99))
            report.add("tasks", Double(tasks))
            report.add("rounds", Double(options.rounds))
            try report.print(json: options.json)
        }
    }
}

/// `batch`: all-or-nothing acquire of 100 resources in one script, then release.
struct BatchScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Acquire 100 resources all-or-nothing, then release, vs 2 × PING round trip (redis-benchmark -c 1)."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Resources per batch.")
    var resources = 100

    func validate() throws {
        try BenchValidation.positive(resources, "--resources")
    }

    func run() async throws {
        try await LockBench.withBench(options) { bench in
            let names = (0..<resources).map { "batch-\($0)" }
            let cycle: @Sendable () async throws -> Void = {
                let lease = try await bench.locks.tryAcquire(names, ttl: .seconds(10))
                _ = try await bench.locks.release(lease)
            }
            for _ in 0..<200 { try await cycle() }
            var floors: [Double] = []
            var ours = RoundResults()
            var oursOnLoop = RoundResults()
            let cyclesPerRound = max(200, Int(options.measuredSeconds(default: 5) / Double(options.rounds) * 1000))
            for _ in 0..<options.rounds {
                let ping = try RedisBenchmarkFloor.run(
                    host: bench.server.host, port: bench.server.port, clients: 1, requests: 20_000, command: ["PING"]
                )
                floors.append(2 * ping.p50Milliseconds)
                ours.add(try await Workload.sequential(operations: cyclesPerRound, cycle))
                // The same from a task on the connection's event loop: no thread hop per call.
                oursOnLoop.add(
                    try await withTaskExecutorPreference(bench.redis.taskExecutor) {
                        try await Workload.sequential(operations: cyclesPerRound, cycle)
                    }
                )
            }
            var report = BenchReport(scenario: "batch")
            let p50 = ours.latencies.percentileMicroseconds(50) / 1000
            let onLoopP50 = oursOnLoop.latencies.percentileMicroseconds(50) / 1000
            report.add("p50_ms", p50)
            report.add("p99_ms", ours.latencies.percentileMicroseconds(99) / 1000)
            report.add("floor_ms", median(floors))
            report.add("ratio_to_floor", p50 / median(floors))
            report.add("on_loop_p50_ms", onLoopP50)
            report.add("on_loop_ratio_to_floor", onLoopP50 / median(floors))
            report.add("resources", Double(resources))
            report.add("rounds", Double(options.rounds))
            try report.print(json: options.json)
        }
    }
}
