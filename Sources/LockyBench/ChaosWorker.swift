import ArgumentParser
import Foundation
import Locky
import LockyRedis
import Logging
import Synchronization

/// `locky-bench chaos-worker`: one process of the chaos run (hidden). Its tasks loop: take 1 to
/// `resourcesPerLock` random resources with one `withLock` (a single one in fair mode at times),
/// and while holding them do a read-modify-write of each one's counter in the fenced store (a
/// token-checked read, a little work, a fenced write), recording every step in its history file
/// per resource (see ``ChaosHistory``).
struct ChaosWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chaos-worker", shouldDisplay: false)

    @Option(help: "Lock URL (a list for Redlock).") var url: String
    @Option(help: "The fenced store's Redis URL.") var storeURL: String
    @Option var worker: Int
    @Option var tasks = 8
    @Option var resources = 4
    @Option var ttlMilliseconds = 1000
    @Option var resourcesPerLock = 1
    @Option var fairShare = 0.0
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
        let workload = Workload(
            resources: resources, resourcesPerLock: resourcesPerLock, fairShare: fairShare,
            ttl: .milliseconds(ttlMilliseconds))
        let (worker, tasks) = (worker, tasks)
        try await LockClient.withClient(configuration: configuration) { locks in
            await withTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        await Self.loop(locks: locks, store: store, log: log, worker: worker, task: task, workload: workload)
                    }
                }
            }
        }
    }

    /// What each task of a worker does.
    private struct Workload {
        let resources: Int
        let resourcesPerLock: Int
        let fairShare: Double
        let ttl: Duration

        /// Distinct resources in random order, and whether to wait fairly (one resource only).
        func next() -> (resources: [Int], fair: Bool) {
            let count = Int.random(in: 1...resourcesPerLock)
            let chosen = Array((0..<resources).shuffled().prefix(count))
            return (chosen, count == 1 && Double.random(in: 0..<1) < fairShare)
        }
    }

    private static func loop(
        locks: LockClient, store: LockClient, log: ChaosLog, worker: Int, task: Int, workload: Workload
    ) async {
        while !Task.isCancelled {
            let (resources, fair) = workload.next()
            // History lines are per resource: `w t r`, then that resource's token.
            let prefixes = resources.map { "\(worker) \(task) \($0)" }
            let ended = EndBox()
            do {
                try await locks.withLock(
                    resources.map { "resource-\($0)" }, ttl: workload.ttl, timeout: .seconds(10), fair: fair
                ) { lease in
                    let tokens = lease.fencingTokens
                    let started = Monotonic.nanoseconds()
                    for (prefix, token) in zip(prefixes, tokens) {
                        log.write("A \(prefix) \(token) \(started) \(nanoseconds(lease.validUntil))")
                    }
                    defer {
                        // Before the release: a worker killed right after it still says when its body ended.
                        let end: EndBox.End = (tokens, Monotonic.nanoseconds(), nanoseconds(lease.validUntil))
                        ended.set(end)
                        for (prefix, token) in zip(prefixes, tokens) {
                            log.write("B \(prefix) \(token) \(end.bodyEnd) \(end.validUntil)")
                        }
                    }
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await state in lease.states() {
                                for (prefix, token) in zip(prefixes, tokens) {
                                    switch state {
                                    case .renewed: log.write("V \(prefix) \(token) \(nanoseconds(lease.validUntil))")
                                    case .lost: log.write("L \(prefix) \(token) \(Monotonic.nanoseconds())")
                                    case .renewalFailed: break
                                    }
                                }
                            }
                        }
                        defer { group.cancelAll() }
                        for (index, resource) in resources.enumerated() {
                            try await readModifyWrite(
                                store: store, log: log, prefix: prefixes[index], resource: resource, token: tokens[index])
                        }
                    }
                }
                if let end = ended.value { record(end, outcome: "ok", prefixes: prefixes, log: log) }
            } catch let error as LockError where error.code == .lockLost {
                if let end = ended.value { record(end, outcome: "lost", prefixes: prefixes, log: log) }
            } catch {
                if let end = ended.value { record(end, outcome: "lost", prefixes: prefixes, log: log) }
                // Redis down, no quorum, timed out: try again soon.
                try? await Task.sleep(for: .milliseconds(Int.random(in: 20...100)))
            }
        }
    }

    /// How `withLock` ended, per resource.
    private static func record(_ end: EndBox.End, outcome: String, prefixes: [String], log: ChaosLog) {
        for (prefix, token) in zip(prefixes, end.tokens) { log.write("E \(prefix) \(token) \(outcome)") }
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
