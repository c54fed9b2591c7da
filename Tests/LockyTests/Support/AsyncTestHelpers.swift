import LockyRESP
import LockyRedis
import LockyTestSupport
import NIOCore
import Synchronization
import Testing

@testable import Locky

/// A test that took longer than it may.
struct TestTimedOut: Error, CustomStringConvertible {
    let what: String
    let limit: Duration
    var description: String { "\(what) did not finish within \(limit)" }
}

/// Runs `body`, failing with ``TestTimedOut`` when it takes longer than `limit` (so a hang is
/// a failure, not a stuck test run). `body` is cancelled then.
func within<T: Sendable>(
    _ limit: Duration,
    _ what: String = "the operation",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TestTimedOut(what: what, limit: limit)
        }
        return value
    }
}

/// Polls `condition` every few milliseconds until it holds; false when `limit` passed first.
func eventually(
    within limit: Duration = .seconds(5),
    every interval: Duration = .milliseconds(5),
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: interval)
    }
}

/// Milliseconds as a floating-point number, for messages and percentiles.
extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}

/// The value below which `fraction` of `values` lie (nearest rank).
func percentile(_ values: [Double], _ fraction: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

extension LockEnvironment {
    /// The Redis server (fails the test when the environment has none).
    func requireServer(sourceLocation: SourceLocation = #_sourceLocation) throws -> RedisServer {
        try #require(server, "a Redis environment has a server", sourceLocation: sourceLocation)
    }

    /// A configuration for a second, independent client of this environment's kind of backend:
    /// the server's URL for Redis, every node's URL for Redlock (with the harness's node
    /// timeout), `.memory` (a separate store) for memory. Never another kind than ``kind``.
    func independentConfiguration(leaseTTL: Duration = .seconds(30)) throws -> LockyConfiguration {
        var configuration = LockyConfiguration(backend: .memory, leaseTTL: leaseTTL)
        switch kind {
        case .memory:
            break
        case .redis:
            configuration.backend = .redis(try RedisConfiguration(url: requireServer().url))
        case .redlock:
            configuration.backend = .redlock(try redlockConfiguration())
        }
        return configuration
    }

    /// The Redlock configuration of this environment's nodes, for a client with its own
    /// connections (fails the test when the environment has no nodes).
    func redlockConfiguration(nodeTimeout: Duration = .milliseconds(500)) throws -> RedlockConfiguration {
        guard kind == .redlock, nodes.count >= 3 else {
            throw HarnessFailure("a \(kind) environment has no Redlock nodes (\(nodes.count))")
        }
        return RedlockConfiguration(nodes: try nodes.map { try RedisConfiguration(url: $0.url) }, nodeTimeout: nodeTimeout)
    }

    /// Runs `body` while ``client``'s renewal loop runs (as ``LockClient/withClient(configuration:logger:_:)``
    /// does for a client it makes), then stops the loop.
    func withRunningClient<T: Sendable>(_ body: @escaping @Sendable (LockClient) async throws -> T) async throws -> T {
        let client = self.client
        return try await withThrowingTaskGroup(of: T?.self) { group in
            // Marked running before the child starts (as withClient does), so a withLock in `body`
            // hands its lease to this loop instead of running its own, however late the child starts.
            client.markRenewalLoopRunning()
            // On the backend's executor, so the loop's timers are not delayed by a busy pool.
            group.addTask(executorPreference: client.backend.preferredTaskExecutor) {
                try await client.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// The number of calls of a Redis command so far (`INFO commandstats`), e.g. `evalsha`.
    func commandCalls(_ command: String) async throws -> Int {
        guard let raw else { throw HarnessFailure("command statistics exist on Redis only") }
        let reply = try await raw.execute(RESPCommand("INFO", "commandstats"))
        let text: String
        switch reply.value {
        case .bulkString(let bytes), .simpleString(let bytes), .verbatimString(let bytes):
            text = String(buffer: bytes)
        default:
            throw HarnessFailure("INFO answered \(reply)")
        }
        let marker = "cmdstat_\(command.lowercased()):calls="
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix(marker) {
            let digits = line.dropFirst(marker.count).prefix(while: \.isNumber)
            return Int(digits) ?? 0
        }
        return 0
    }

    /// Every redis-server of this environment: the Redlock nodes, or the Redis server.
    func requireServers(sourceLocation: SourceLocation = #_sourceLocation) throws -> [RedisServer] {
        if !nodes.isEmpty { return nodes }
        return [try requireServer(sourceLocation: sourceLocation)]
    }

    /// The raw connections to every server: the Redlock nodes, or the Redis server.
    private func rawClients() throws -> [RedisClient] {
        if !nodeClients.isEmpty { return nodeClients }
        guard let raw else { throw HarnessFailure("the \(kind) backend has no server to ask") }
        return [raw]
    }

    /// The channels with subscribers whose names match `pattern` on any server (`PUBSUB CHANNELS`
    /// over the raw connections, not a redis-cli process per poll; Redlock: every node's).
    func activeChannels(matching pattern: String) async throws -> [String] {
        var channels: [String] = []
        for client in try rawClients() {
            channels += try await client.execute(RESPCommand("PUBSUB", "CHANNELS", pattern)).decode(as: [String].self)
        }
        return channels
    }

    /// How many subscribers the servers count on `channel` (`PUBSUB NUMSUB` over the raw
    /// connections; Redlock: the sum over every node).
    func subscriberCount(_ channel: String) async throws -> Int {
        var total = 0
        for client in try rawClients() {
            // The channel, then its count.
            let reply = try await client.execute(RESPCommand("PUBSUB", "NUMSUB", channel)).decode(as: [RESPToken].self)
            guard reply.count == 2 else { throw HarnessFailure("PUBSUB NUMSUB answered \(reply.count) values") }
            total += try reply[1].decode(as: Int.self)
        }
        return total
    }

    /// Deletes `resource`'s lock behind Locky's back (Redis `DEL`; memory: an unconditional unlock).
    func deleteLockBehindTheBack(_ resource: String) async throws {
        for node in nodeClients.dropFirst() { _ = try await node.execute(RESPCommand("DEL", keyspace.lockKey(resource))) }
        if let raw {
            _ = try await raw.execute(RESPCommand("DEL", keyspace.lockKey(resource)))
        } else {
            _ = try await backend.inner.unlock([resource], owner: nil)
        }
    }

    /// Overwrites `resource`'s lock with another owner (Redis `SET key other`; memory: a forced lock).
    func overwriteLockBehindTheBack(_ resource: String, owner: String) async throws {
        for node in nodeClients.dropFirst() { _ = try await node.execute(RESPCommand("SET", keyspace.lockKey(resource), owner)) }
        if let raw {
            _ = try await raw.execute(RESPCommand("SET", keyspace.lockKey(resource), owner))
        } else {
            _ = try await backend.inner.lock([resource], locker: owner, ttl: nil, force: true)
        }
    }
}

extension LockClient {
    /// Marks the client's renewal loop as running before a task that is about to call ``run()``
    /// starts (as ``LockClient/withClient(configuration:logger:_:)`` does), so leases taken
    /// meanwhile are handed to it: no sleep that a loaded machine can outlast.
    func markRenewalLoopRunning() { renewals.markRunning() }
}

/// Wraps a backend so its renewals can be made to hang, as if the server stopped answering
/// (the memory backend's stand-in for a paused redis-server). A hanging call gives up only
/// when its task is cancelled.
final class StallingBackend: LockBackend {
    let inner: any LockBackend
    private let stalledFlag = Shared(false)
    private let unlocksStallFlag = Shared(true)
    private let stalledOwnerBox = Shared<String?>(nil)
    /// Renewal calls that reached this backend, and those the inner backend has answered.
    let renewalsStarted = Shared(0)
    let renewalsAnswered = Shared(0)

    init(_ inner: any LockBackend) { self.inner = inner }

    /// Whether renewals (and, with ``unlocksStall``, unlocks) hang.
    var stalled: Bool {
        get { stalledFlag.value }
        set { stalledFlag.update { [newValue] in $0 = newValue } }
    }

    /// Renewals of this owner's locks hang, whatever ``stalled`` says; the others go through.
    var stalledOwner: String? {
        get { stalledOwnerBox.value }
        set { stalledOwnerBox.update { [newValue] in $0 = newValue } }
    }

    /// Whether unlocks hang with renewals (by default they do).
    var unlocksStall: Bool {
        get { unlocksStallFlag.value }
        set { unlocksStallFlag.update { [newValue] in $0 = newValue } }
    }

    var recreatesMissingLocks: Bool { inner.recreatesMissingLocks }

    var name: String { inner.name }

    private func hangWhileStalled(_ operation: String) async throws(LockError) {
        while stalledFlag.value {
            if Task.isCancelled { throw LockError(.cancelled, "\(operation) was cancelled") }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    func acquire(_ resources: [String], owner: String, ttl: Duration?) async throws(LockError) -> AcquireReply {
        try await inner.acquire(resources, owner: owner, ttl: ttl)
    }

    func lock(_ resources: [String], locker: String, ttl: Duration?, force: Bool) async throws(LockError) -> [LockOutcome] {
        try await inner.lock(resources, locker: locker, ttl: ttl, force: force)
    }

    func extend(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) async throws(LockError) -> ExtendReply {
        try await inner.extend(resources, owner: owner, ttl: ttl, mode: mode)
    }

    func renew(_ items: [RenewalItem]) async throws(LockError) -> [RenewalResult] {
        renewalsStarted.update { $0 += 1 }
        try await hangWhileStalled("renew")
        while let owner = stalledOwnerBox.value, items.contains(where: { $0.owner == owner }) {
            if Task.isCancelled { throw LockError(.cancelled, "renew was cancelled") }
            try? await Task.sleep(for: .milliseconds(5))
        }
        let results = try await inner.renew(items)
        renewalsAnswered.update { $0 += 1 }
        return results
    }

    func unlock(_ resources: [String], owner: String?) async throws(LockError) -> [UnlockOutcome] {
        if unlocksStallFlag.value { try await hangWhileStalled("unlock") }
        return try await inner.unlock(resources, owner: owner)
    }

    func refresh(_ resources: [String], locker: String?, ttl: Duration?) async throws(LockError) -> [RefreshOutcome] {
        try await inner.refresh(resources, locker: locker, ttl: ttl)
    }

    func holders(_ resources: [String]) async throws(LockError) -> [LockHolder?] {
        try await inner.holders(resources)
    }

    func lockedResources() async throws(LockError) -> [String] {
        try await inner.lockedResources()
    }

    func fencedWrite(key: String, value: ByteBuffer, fencingToken: Int64) async throws(LockError) -> FencedWriteOutcome {
        try await inner.fencedWrite(key: key, value: value, fencingToken: fencingToken)
    }

    func fencedRead(key: String) async throws(LockError) -> FencedValue? {
        try await inner.fencedRead(key: key)
    }

    func fencedRead(key: String, fencingToken: Int64) async throws(LockError) -> FencedReadOutcome {
        try await inner.fencedRead(key: key, fencingToken: fencingToken)
    }

    func withEvents<T: Sendable>(expirations: Bool, _ body: (LockEventStream) async throws -> T) async throws -> T {
        try await inner.withEvents(expirations: expirations, body)
    }

    func withEventHandler<T: Sendable>(
        expirations: Bool,
        _ handler: @escaping @Sendable (LockEvent) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await inner.withEventHandler(expirations: expirations, handler, body)
    }

    var preferredTaskExecutor: (any TaskExecutor)? { inner.preferredTaskExecutor }

    func close() async { await inner.close() }
}

/// A one-shot gate many tasks wait at until it opens (no polling, so waiting bodies put no
/// load on the machine). A cancelled waiter leaves with `CancellationError`.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var nextID: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    }

    private let state = Mutex(State())

    /// Lets every waiter (and every later one) through.
    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until the gate opens; throws `CancellationError` when the task is cancelled first.
    func wait() async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let result = state.withLock { state -> Result<Void, any Error>? in
                    if state.isOpen { return .success(()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }
}

/// Runs `body` on `env`'s backend executor (the Redis connection's event loop), where timers and
/// wake-ups are not delayed by a busy shared pool; on the pool for memory.
func onBackendExecutor<T: Sendable>(_ env: LockEnvironment, _ body: () async throws -> T) async throws -> T {
    try await withTaskExecutorPreference(env.client.backend.preferredTaskExecutor) {
        try await body()
    }
}
