import ArgumentParser
import Foundation
import Locky
import LockyRedis
import Logging
import Synchronization

/// `locky-bench chaos-worker`: one process of the chaos run (hidden). Its tasks loop: take a
/// random resource with `withLock`, and while holding it do a read-modify-write of that
/// resource's counter in the fenced store (a token-checked read, a little work, a fenced write),
/// recording every step in its history file (see ``ChaosHistory``).
struct ChaosWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chaos-worker", shouldDisplay: false)

    @Option(help: "Lock URL (a list for Redlock).") var url: String
    @Option(help: "The fenced store's Redis URL.") var storeURL: String
    @Option var worker: Int
    @Option var tasks = 8
    @Option var resources = 4
    @Option var ttlMilliseconds = 1000
    @Option var history: String

    func run() async throws {
        let log = try ChaosLog(path: history)
        var configuration = try LockyConfiguration(url: url)
        configuration.prefix = "chaos:"
        let store = try LockClient(
            backend: RedisLockBackend(
                configuration: try RedisConfiguration(url: storeURL), keyspace: LockKeyspace(prefix: "chaos:store:"),
                logger: Logger(label: "chaos")),
            tracer: nil)
        let (worker, tasks, resources) = (worker, tasks, resources)
        let ttl = Duration.milliseconds(ttlMilliseconds)
        try await LockClient.withClient(configuration: configuration) { locks in
            await withTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        await Self.loop(
                            locks: locks, store: store, log: log, worker: worker, task: task, resources: resources, ttl: ttl)
                    }
                }
            }
        }
    }

    private static func loop(
        locks: LockClient, store: LockClient, log: ChaosLog, worker: Int, task: Int, resources: Int, ttl: Duration
    ) async {
        while !Task.isCancelled {
            let resource = Int.random(in: 0..<resources)
            let prefix = "\(worker) \(task) \(resource)"
            let ended = EndBox()
            do {
                try await locks.withLock("resource-\(resource)", ttl: ttl, timeout: .seconds(10)) { lease in
                    let token = lease.fencingToken
                    log.write("A \(prefix) \(token) \(Monotonic.nanoseconds()) \(nanoseconds(lease.validUntil))")
                    defer {
                        // Before the release: a worker killed right after it still says when its body ended.
                        let end: EndBox.End = (token, Monotonic.nanoseconds(), nanoseconds(lease.validUntil))
                        ended.set(end)
                        log.write("B \(prefix) \(token) \(end.bodyEnd) \(end.validUntil)")
                    }
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await state in lease.states() {
                                switch state {
                                case .renewed: log.write("V \(prefix) \(token) \(nanoseconds(lease.validUntil))")
                                case .lost: log.write("L \(prefix) \(token) \(Monotonic.nanoseconds())")
                                case .renewalFailed: break
                                }
                            }
                        }
                        defer { group.cancelAll() }
                        try await readModifyWrite(store: store, log: log, prefix: prefix, resource: resource, token: token)
                    }
                }
                if let end = ended.value { log.write("E \(prefix) \(end.token) ok") }
            } catch let error as LockError where error.code == .lockLost {
                if let end = ended.value { log.write("E \(prefix) \(end.token) lost") }
            } catch {
                if let end = ended.value { log.write("E \(prefix) \(end.token) lost") }
                // Redis down, no quorum, timed out: try again soon.
                try? await Task.sleep(for: .milliseconds(Int.random(in: 20...100)))
            }
        }
    }

    /// Token-checked read, a little work, fenced write of the value plus one.
    private static func readModifyWrite(
        store: LockClient, log: ChaosLog, prefix: String, resource: Int, token: Int64
    ) async throws {
        let key = "counter-\(resource)"
        guard case .read(let current) = try await store.fencedRead(key, fencingToken: token) else { return }
        let value = Int(current?.string ?? "0") ?? 0
        try await Task.sleep(for: .milliseconds(Int.random(in: 1...20)))
        log.write("WS \(prefix) \(token) \(Monotonic.nanoseconds()) \(value + 1)")
        let outcome = try await store.fencedWrite("\(value + 1)", to: key, fencingToken: token)
        log.write("WE \(prefix) \(token) \(Monotonic.nanoseconds()) \(outcome == .accepted ? 1 : 0)")
        try await Task.sleep(for: .milliseconds(Int.random(in: 0...10)))
    }
}

/// A `ContinuousClock` instant on the CLOCK_MONOTONIC nanosecond scale of ``Monotonic``.
func nanoseconds(_ instant: ContinuousClock.Instant) -> Int64 {
    let offset = instant - ContinuousClock.now
    let (seconds, attoseconds) = offset.components
    return Monotonic.nanoseconds() + seconds * 1_000_000_000 + attoseconds / 1_000_000_000
}
