import ArgumentParser
import Locky
import LockyRESP
import LockyRedis

/// `profile` (hidden): one workload for a fixed time and no floor, to run under `perf` or
/// `strace` and see where the client's time goes.
struct ProfileScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Runs one workload without a floor, for perf or strace.",
        shouldDisplay: false
    )

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        case set, floor, backend, cycle, wait, batch
    }

    @OptionGroup var options: BenchOptions

    @Argument(
        help:
            "set | floor (SET NX PX + compare-and-delete) | backend (the scripts, no LockClient) | cycle | wait (cycle with a waiting acquire) | batch"
    )
    var workload: Workload

    @Flag(help: "Run the task on the connection's event loop.")
    var onLoop = false

    @Option(help: "Concurrent tasks.")
    var tasks = 1

    func run() async throws {
        try await LockBench.withBench(options) { bench in
            let command = RESPCommand("SET", "locky:bench:resp", "value", "NX", "PX", 30000)
            let names = (0..<100).map { "batch-\($0)" }
            let operation: @Sendable (Int) async throws -> Void
            switch workload {
            case .set:
                operation = { _ in _ = try await bench.redis.execute(command) }
            case .floor:
                let release = RESPCommand("EVALSHA", bench.releaseSHA, 1, "locky:bench:floor", "owner")
                let set = RESPCommand("SET", "locky:bench:floor", "owner", "NX", "PX", 30000)
                operation = { _ in
                    _ = try await bench.redis.execute(set)
                    _ = try await bench.redis.execute(release)
                }
            case .backend:
                let backend = try RedisLockBackend(client: bench.redis, keyspace: LockKeyspace(prefix: "locky:bench:"))
                operation = { index in
                    _ = try await backend.acquire(["profile-\(index)"], owner: "owner", ttl: .seconds(10))
                    _ = try await backend.unlock(["profile-\(index)"], owner: "owner")
                }
            case .cycle:
                operation = { index in
                    let lease = try await bench.locks.tryAcquire("profile-\(index)", ttl: .seconds(10))
                    _ = try await bench.locks.release(lease)
                }
            case .wait:
                // The waiting acquire of a free lock: subscribe, one attempt, unsubscribe.
                operation = { index in
                    let lease = try await bench.locks.acquire("profile-\(index)", ttl: .seconds(10), timeout: .seconds(10))
                    _ = try await bench.locks.release(lease)
                }
            case .batch:
                operation = { _ in
                    let lease = try await bench.locks.tryAcquire(names, ttl: .seconds(10))
                    _ = try await bench.locks.release(lease)
                }
            }
            let clock = ContinuousClock()
            let end = clock.now + .seconds(options.measuredSeconds(default: 5))
            let loop = onLoop
            let count = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<tasks {
                    group.addTask {
                        let body: () async throws -> Int = {
                            var count = 0
                            while clock.now < end {
                                try await operation(index)
                                count += 1
                            }
                            return count
                        }
                        if loop { return try await withTaskExecutorPreference(bench.redis.taskExecutor, operation: body) }
                        return try await body()
                    }
                }
                return try await group.reduce(0, +)
            }
            print(
                "\(workload.rawValue): \(Int(Double(count) / options.measuredSeconds(default: 5))) ops/s over \(options.measuredSeconds(default: 5)) s"
            )
        }
    }
}
