import ArgumentParser
import LockyRESP
import LockyRedis

/// `resp`: the raw client against redis-benchmark, one command at a time and 50 tasks sharing
/// one connection. Floor and client alternate in rounds of equal size and the medians are
/// compared, so a noisy machine moves both sides alike.
struct RESPScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resp",
        abstract: "SET key value NX PX 30000: sequential and 50 concurrent tasks vs redis-benchmark -c 1 / -c 50."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Concurrent tasks sharing the client.")
    var tasks = 50

    func validate() throws {
        try BenchValidation.positive(tasks, "--tasks")
    }

    func run() async throws {
        try await BenchServer.with(options) { try await measure($0) }
    }

    private func measure(_ server: BenchServer) async throws {
        let arguments = ["SET", "locky:bench:resp", "value", "NX", "PX", "30000"]
        let command = RESPCommand("SET", "locky:bench:resp", "value", "NX", "PX", 30000)
        let client = try RedisClient(url: server.url)
        for _ in 0..<2000 { _ = try await client.execute(command) }

        // Size the rounds so each phase takes about `seconds / rounds`.
        let calibration = try RedisBenchmarkFloor.run(
            host: server.host, port: server.port, clients: 1, requests: 2000, command: arguments)
        let rounds = options.rounds
        let phase = options.measuredSeconds(default: 5) / Double(rounds)
        let sequentialOps = max(1000, Int(calibration.requestsPerSecond * phase))
        let concurrentOps = sequentialOps * 8

        var floorSequential: [Double] = []
        var floorConcurrent: [Double] = []
        var ours = RoundResults()
        var oursOnLoop = RoundResults()
        var oursConcurrent = RoundResults()
        var floorSequentialP50: [Double] = []
        var floorConcurrentP50: [Double] = []
        for _ in 0..<rounds {
            let floor = try RedisBenchmarkFloor.run(
                host: server.host, port: server.port, clients: 1, requests: sequentialOps, command: arguments)
            floorSequential.append(floor.requestsPerSecond)
            floorSequentialP50.append(floor.p50Milliseconds * 1000)
            ours.add(try await Workload.sequential(operations: sequentialOps) { _ = try await client.execute(command) })
            oursOnLoop.add(
                try await withTaskExecutorPreference(client.taskExecutor) {
                    try await Workload.sequential(operations: sequentialOps) { _ = try await client.execute(command) }
                }
            )
            let concurrentFloor = try RedisBenchmarkFloor.run(
                host: server.host, port: server.port, clients: 50, requests: concurrentOps, command: arguments
            )
            floorConcurrent.append(concurrentFloor.requestsPerSecond)
            floorConcurrentP50.append(concurrentFloor.p50Milliseconds * 1000)
            oursConcurrent.add(
                try await Workload.concurrent(tasks: tasks, operations: concurrentOps) { _ = try await client.execute(command) }
            )
        }
        await client.close()

        var report = BenchReport(scenario: "resp")
        report.add("sequential_ops_per_s", ours.medianRate)
        report.add("floor_sequential_ops_per_s", median(floorSequential))
        report.add("sequential_ratio", ours.medianRatio(to: floorSequential))
        report.add("sequential_p50_us", ours.latencies.percentileMicroseconds(50))
        report.add("sequential_p99_us", ours.latencies.percentileMicroseconds(99))
        report.add("floor_sequential_p50_us", median(floorSequentialP50))
        report.add("sequential_on_loop_ops_per_s", oursOnLoop.medianRate)
        report.add("sequential_on_loop_ratio", oursOnLoop.medianRatio(to: floorSequential))
        report.add("sequential_on_loop_p50_us", oursOnLoop.latencies.percentileMicroseconds(50))
        report.add("concurrent_ops_per_s", oursConcurrent.medianRate)
        report.add("floor_concurrent_ops_per_s", median(floorConcurrent))
        report.add("concurrent_ratio", oursConcurrent.medianRatio(to: floorConcurrent))
        report.add("concurrent_p50_us", oursConcurrent.latencies.percentileMicroseconds(50))
        report.add("concurrent_p99_us", oursConcurrent.latencies.percentileMicroseconds(99))
        report.add("floor_concurrent_p50_us", median(floorConcurrentP50))
        report.add("tasks", Double(tasks))
        report.add("rounds", Double(rounds))
        try report.print(json: options.json)
    }
}
