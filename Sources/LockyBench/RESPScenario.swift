import ArgumentParser
import LockyRESP
import LockyRedis

/// `resp`: the raw client against redis-benchmark, one command at a time and 50 tasks sharing
/// one connection.
struct RESPScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resp",
        abstract: "SET key value NX PX 30000: sequential and 50 concurrent tasks vs redis-benchmark -c 1 / -c 50."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Concurrent tasks sharing the client.")
    var tasks = 50

    func run() async throws {
        let server = try await BenchServer.start(options: options)
        do {
            try await measure(server)
            await server.stop()
        } catch {
            await server.stop()
            throw error
        }
    }

    private func measure(_ server: BenchServer) async throws {
        let command = ["SET", "locky:bench:resp", "value", "NX", "PX", "30000"]
        let sequentialFloor = try RedisBenchmarkFloor.run(
            host: server.host, port: server.port, clients: 1, requests: 50_000, command: command
        )
        let concurrentFloor = try RedisBenchmarkFloor.run(
            host: server.host, port: server.port, clients: 50, requests: 300_000, command: command
        )

        let client = try RedisClient(url: server.url)
        let set = RESPCommand("SET", "locky:bench:resp", "value", "NX", "PX", 30000)
        // Warm up: connect, fill caches.
        for _ in 0..<2000 { _ = try await client.execute(set) }

        let duration = Duration.seconds(options.seconds)
        let clock = ContinuousClock()

        var sequential = LatencyRecorder(capacity: 100_000)
        let sequentialStart = clock.now
        while clock.now - sequentialStart < duration {
            let start = clock.now
            _ = try await client.execute(set)
            sequential.record(clock.now - start)
        }
        let sequentialElapsed = (clock.now - sequentialStart).seconds

        let concurrentStart = clock.now
        let concurrent = try await withThrowingTaskGroup(of: LatencyRecorder.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var recorder = LatencyRecorder(capacity: 50_000)
                    while clock.now - concurrentStart < duration {
                        let start = clock.now
                        _ = try await client.execute(set)
                        recorder.record(clock.now - start)
                    }
                    return recorder
                }
            }
            var all = LatencyRecorder()
            for try await recorder in group { all.merge(recorder) }
            return all
        }
        let concurrentElapsed = (clock.now - concurrentStart).seconds
        await client.close()

        var report = BenchReport(scenario: "resp")
        let sequentialRate = Double(sequential.count) / sequentialElapsed
        let concurrentRate = Double(concurrent.count) / concurrentElapsed
        report.add("sequential_ops_per_s", sequentialRate)
        report.add("floor_sequential_ops_per_s", sequentialFloor.requestsPerSecond)
        report.add("sequential_ratio", sequentialRate / sequentialFloor.requestsPerSecond)
        report.add("sequential_p50_us", sequential.percentileMicroseconds(50))
        report.add("sequential_p99_us", sequential.percentileMicroseconds(99))
        report.add("floor_sequential_p50_us", sequentialFloor.p50Milliseconds * 1000)
        report.add("floor_sequential_p99_us", sequentialFloor.p99Milliseconds * 1000)
        report.add("concurrent_ops_per_s", concurrentRate)
        report.add("floor_concurrent_ops_per_s", concurrentFloor.requestsPerSecond)
        report.add("concurrent_ratio", concurrentRate / concurrentFloor.requestsPerSecond)
        report.add("concurrent_p50_us", concurrent.percentileMicroseconds(50))
        report.add("concurrent_p99_us", concurrent.percentileMicroseconds(99))
        report.add("floor_concurrent_p50_us", concurrentFloor.p50Milliseconds * 1000)
        report.add("floor_concurrent_p99_us", concurrentFloor.p99Milliseconds * 1000)
        report.add("tasks", Double(tasks))
        report.print(json: options.json)
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
