import ArgumentParser
import Foundation
import Locky
import LockyRESP
import LockyRedis
import Synchronization

/// What a demo worker reports.
enum DemoEvent: Sendable {
    /// The worker starts waiting for a resource.
    case waiting(worker: Int, resource: Int)
    /// The worker holds the resource (monotonic ns; `waited` ns).
    case acquired(worker: Int, resource: Int, token: Int64, at: Int64, waited: Int64)
    /// The worker is about to release the resource (monotonic ns).
    case released(worker: Int, resource: Int, token: Int64, at: Int64)
    /// The worker ended, with an error message if it failed.
    case finished(worker: Int, error: String?)

    /// The line a worker process prints (`W r`, `A r token at waited`, `R r token at`).
    var line: String? {
        switch self {
        case .waiting(_, let resource): return "W \(resource)"
        case .acquired(_, let resource, let token, let at, let waited): return "A \(resource) \(token) \(at) \(waited)"
        case .released(_, let resource, let token, let at): return "R \(resource) \(token) \(at)"
        case .finished: return nil
        }
    }

    /// Parses a worker's line.
    init?(line: Substring, worker: Int) {
        let fields = line.split(separator: " ")
        guard let kind = fields.first, fields.count >= 2, let resource = Int(fields[1]) else { return nil }
        let numbers = fields.dropFirst(2).compactMap { Int64($0) }
        switch (kind, numbers.count) {
        case ("W", 0): self = .waiting(worker: worker, resource: resource)
        case ("A", 3): self = .acquired(worker: worker, resource: resource, token: numbers[0], at: numbers[1], waited: numbers[2])
        case ("R", 2): self = .released(worker: worker, resource: resource, token: numbers[0], at: numbers[1])
        default: return nil
        }
    }
}

/// The shared counter of the mutual-exclusion check: read, then written back plus one, under the lock.
protocol DemoCounter: Sendable {
    func get(_ resource: Int) async throws -> Int
    func set(_ resource: Int, _ value: Int) async throws
}

/// Counters in Redis: `<prefix>demo:counter:<n>` (not lock keys, so `status` ignores them).
struct RedisDemoCounter: DemoCounter {
    let redis: RedisClient
    let prefix: String

    func key(_ resource: Int) -> String { "\(prefix)demo:counter:\(resource)" }

    func get(_ resource: Int) async throws -> Int {
        let reply = try await redis.execute(RESPCommand("GET", key(resource)))
        return (try? reply.decode(as: Int?.self)).flatMap { $0 } ?? 0
    }

    func set(_ resource: Int, _ value: Int) async throws {
        _ = try await redis.execute(RESPCommand("SET", key(resource), value))
    }

    func reset(_ count: Int) async throws {
        var command = RESPCommand("DEL")
        for resource in 0..<count { command.append(key(resource)) }
        _ = try await redis.execute(command)
    }
}

/// Counters in this process (for `memory://`).
actor MemoryDemoCounter: DemoCounter {
    private var values: [Int: Int] = [:]
    func get(_ resource: Int) -> Int { values[resource] ?? 0 }
    func set(_ resource: Int, _ value: Int) { values[resource] = value }
}

/// The names of the demo's resources.
func demoResources(_ count: Int) -> [String] {
    (1...count).map { "demo:resource-\($0)" }
}

/// One worker: until `seconds` have passed, take a random resource (waiting), do the counter's
/// read-modify-write and a little work under the lock, release it, rest a little.
func runDemoWorker(
    client: LockClient,
    worker: Int,
    resources: Int,
    seconds: Double,
    counter: any DemoCounter,
    emit: @Sendable (DemoEvent) -> Void
) async throws {
    let names = demoResources(resources)
    let end = monotonicNanoseconds() + Int64(seconds * 1e9)
    while monotonicNanoseconds() < end, !Task.isCancelled {
        let resource = Int.random(in: 0..<resources)
        emit(.waiting(worker: worker, resource: resource))
        let before = monotonicNanoseconds()
        let lease = try await client.acquire(names[resource], ttl: .seconds(10), label: "worker-\(worker)", timeout: .seconds(30))
        let acquired = monotonicNanoseconds()
        emit(.acquired(worker: worker, resource: resource, token: lease.fencingToken, at: acquired, waited: acquired - before))
        do {
            let value = try await counter.get(resource)
            try await Task.sleep(for: .milliseconds(1))
            try await counter.set(resource, value + 1)
            try await Task.sleep(for: .milliseconds(Int.random(in: 5...40)))
        } catch {
            _ = try? await client.release(lease)
            throw error
        }
        emit(.released(worker: worker, resource: resource, token: lease.fencingToken, at: monotonicNanoseconds()))
        _ = try await client.release(lease)
        try await Task.sleep(for: .milliseconds(Int.random(in: 0...15)))
    }
}

/// `locky demo-worker`: one worker process of `demo` (hidden; prints event lines).
struct DemoWorkerSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo-worker", shouldDisplay: false)

    @OptionGroup var options: GlobalOptions

    @Option var worker: Int
    @Option var resources: Int
    @Option var seconds: Double

    func run() async throws {
        let (worker, resources, seconds) = (worker, resources, seconds)
        try await withLockClient(options) { client in
            guard let backend = client.backend.firstRedisNode else { return ExitStatus.usage }
            let counter = RedisDemoCounter(redis: backend.client, prefix: backend.keyspace.prefix)
            // `demo` stops its workers with SIGTERM (a Ctrl-C reaches them too): a worker killed
            // outright would leave the lock it holds for its 10 s TTL on a server that stays.
            // Cancelled instead, it gives back what it holds before it exits.
            try await untilInterrupted {
                try await runDemoWorker(client: client, worker: worker, resources: resources, seconds: seconds, counter: counter)
                {
                    if let line = $0.line { Terminal.line(line) }
                }
            }
            return ExitStatus.success
        }
    }
}
