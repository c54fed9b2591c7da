import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Logging
import Metrics
import NIOCore
import Synchronization
import Testing
import Tracing

/// Every backend the conformance suite runs against. Add a kind here (and a case in
/// ``withBackend(_:clock:prefix:_:)``) and every `@Test(arguments: BackendKind.allCases)` covers it.
enum BackendKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory
    case redis
    /// Redlock over three redis-servers.
    case redlock

    var testDescription: String { rawValue }
}

/// Which clock a memory backend test uses; Redis always runs on real time.
enum ClockChoice: Sendable {
    /// A ``ManualLockClock``: time moves only through ``LockEnvironment/pass(_:)``.
    case manual
    /// The system clock (for tests where time must pass on its own, e.g. retry delays).
    case system
}

/// The expiry of a lock key as the backend stores it.
enum Expiry: Sendable, Equatable, CustomStringConvertible {
    /// No lock at all.
    case missing
    /// A lock without expiry (Redis PTTL -1).
    case persistent
    /// A lock expiring in this many milliseconds.
    case milliseconds(Int64)

    var description: String {
        switch self {
        case .missing: return "missing"
        case .persistent: return "persistent"
        case .milliseconds(let ms): return "\(ms) ms"
        }
    }

    /// The milliseconds left, or nil when missing or persistent.
    var ms: Int64? {
        if case .milliseconds(let ms) = self { return ms }
        return nil
    }
}

/// One test's backend, a client over it, and ways to look at the stored state without the
/// API under test.
struct LockEnvironment: Sendable {
    let kind: BackendKind
    /// The backend, wrapped so tests can count calls.
    let backend: RecordingBackend
    /// The client under test (default configuration, lease TTL 30 s).
    let client: LockClient
    let clock: any LockClock
    let manualClock: ManualLockClock?
    let keyspace: LockKeyspace
    /// The redis-server (Redis only).
    let server: RedisServer?
    /// A raw connection that bypasses Locky (Redis: the server; Redlock: the first node, for
    /// commands, not inspection: ``storedOwner(_:)``, ``expiry(_:)``, ``keyCount()`` and
    /// ``stateSnapshot()`` read every node).
    let raw: RedisClient?
    /// Redlock: every node's server, and a raw connection to each.
    var nodes: [RedisServer] = []
    var nodeClients: [RedisClient] = []
    /// The in-memory backend behind ``backend`` (memory only).
    let memory: InMemoryLockBackend?

    /// Another client over the same backend, with its own configuration.
    func makeClient(
        _ configuration: LockyConfiguration = LockyConfiguration(),
        logger: Logger = Logger(label: "locky", factory: { _ in SwiftLogNoOpLogHandler() }),
        metricsFactory: (any MetricsFactory)? = nil,
        tracer: (any Tracer)? = nil
    ) throws -> LockClient {
        try LockClient(
            backend: backend,
            configuration: configuration,
            logger: logger,
            metricsFactory: metricsFactory,
            tracer: tracer,
            clock: clock
        )
    }

    /// Lets `duration` pass: advances the manual clock, or sleeps.
    func pass(_ duration: Duration) async throws {
        if let manualClock {
            manualClock.advance(by: duration)
        } else {
            try await Task.sleep(for: duration)
        }
    }

    /// Raw connections to every server holding locks: each Redlock node, or the Redis server.
    var inspectionClients: [RedisClient] {
        if !nodeClients.isEmpty { return nodeClients }
        return raw.map { [$0] } ?? []
    }

    /// Reads `read` on every Redlock node and returns what they agree on: `absent` when no node
    /// has anything, else what `combine` makes of the values of the nodes that have it, which
    /// must be at least a quorum (`combine` answers nil when those values disagree). A minority,
    /// or disagreement, is read again for a while (a key expiring, a node's write in flight)
    /// and then fails the test: a key left on one node after a release is not "absent".
    func agreedAcrossNodes<T: Equatable & Sendable>(
        _ what: String,
        absent: T,
        _ read: (RedisClient) async throws -> T,
        combine: ([T]) -> T? = { values in values.allSatisfy { $0 == values[0] } ? values[0] : nil }
    ) async throws -> T {
        let quorum = nodeClients.count / 2 + 1
        var values: [T] = []
        for _ in 0..<25 {
            values = []
            for node in nodeClients { values.append(try await read(node)) }
            let present = values.filter { $0 != absent }
            if present.isEmpty { return absent }
            if present.count >= quorum, let agreed = combine(present) { return agreed }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessFailure("the Redlock nodes disagree on \(what): \(values) (quorum \(quorum))")
    }

    /// The owner stored for `resource`, or nil (Redlock: on every node, see ``agreedAcrossNodes(_:absent:_:combine:)``).
    func storedOwner(_ resource: String) async throws -> String? {
        if !nodeClients.isEmpty {
            return try await agreedAcrossNodes("the owner of \(resource)", absent: nil) { node in
                try await node.execute(RESPCommand("GET", keyspace.lockKey(resource))).stringValue
            }
        }
        if let raw {
            let reply = try await raw.execute(RESPCommand("GET", keyspace.lockKey(resource)))
            return reply.stringValue
        }
        return try await backend.inner.holders([resource])[0]?.owner
    }

    /// The stored expiry of `resource`'s lock (Redlock: every node's; the shortest when all expire).
    func expiry(_ resource: String) async throws -> Expiry {
        func read(_ raw: RedisClient) async throws -> Expiry {
            let reply = try await raw.execute(RESPCommand("PTTL", keyspace.lockKey(resource)))
            guard case .number(let pttl) = reply.value else { throw HarnessFailure("PTTL answered \(reply)") }
            switch pttl {
            case -2: return .missing
            case -1: return .persistent
            default: return .milliseconds(pttl)
            }
        }
        if !nodeClients.isEmpty {
            return try await agreedAcrossNodes("the expiry of \(resource)", absent: .missing, read) { values in
                if values.allSatisfy({ $0 == .persistent }) { return .persistent }
                let remaining = values.compactMap(\.ms)
                return remaining.count == values.count ? remaining.min().map(Expiry.milliseconds) : nil
            }
        }
        if let raw { return try await read(raw) }
        guard let holder = try await backend.inner.holders([resource])[0] else { return .missing }
        guard let remaining = holder.remaining else { return .persistent }
        return .milliseconds(remaining.wholeMilliseconds)
    }

    /// Number of keys in Redis (nil for memory, which has no key count); Redlock: the same on every node.
    func keyCount() async throws -> Int64? {
        func read(_ raw: RedisClient) async throws -> Int64 {
            let reply = try await raw.execute(RESPCommand("DBSIZE"))
            guard case .number(let count) = reply.value else { throw HarnessFailure("DBSIZE answered \(reply)") }
            return count
        }
        if !nodeClients.isEmpty {
            // -1 is never a count: every node must answer, and all alike.
            return try await agreedAcrossNodes("the key count", absent: -1, read) { counts in
                counts.count == nodeClients.count && counts.allSatisfy { $0 == counts[0] } ? counts[0] : nil
            }
        }
        guard let raw else { return nil }
        return try await read(raw)
    }

    /// Every key and value (nil for memory). Redlock: every node's, which must hold the same
    /// keys; each key's value is every node's in turn, so a change on any node shows.
    func stateSnapshot() async throws -> RedisStateSnapshot? {
        if !nodeClients.isEmpty {
            var snapshots: [RedisStateSnapshot] = []
            for _ in 0..<25 {
                snapshots = []
                for node in nodeClients { snapshots.append(try await RedisStateSnapshot.take(node)) }
                let keys = Set(snapshots[0].values.keys)
                if snapshots.allSatisfy({ $0.size == snapshots[0].size && Set($0.values.keys) == keys }) {
                    var values: [String: [UInt8]] = [:]
                    for key in keys {
                        values[key] = snapshots.flatMap { snapshot in
                            let value = snapshot.values[key] ?? []
                            return withUnsafeBytes(of: UInt64(value.count).littleEndian, Array.init) + value
                        }
                    }
                    return RedisStateSnapshot(size: snapshots[0].size, values: values)
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let keys = snapshots.map { $0.values.keys.sorted() }
            throw HarnessFailure("the Redlock nodes hold different keys: \(keys)")
        }
        guard let raw else { return nil }
        return try await RedisStateSnapshot.take(raw)
    }

    /// The tolerance for real-time measurements: zero on a manual clock.
    var slack: Int64 { manualClock == nil ? 300 : 0 }
}

/// Runs `body` with a fresh backend of `kind`: a new redis-server for Redis, a new in-memory
/// backend (on a manual clock unless told otherwise) for memory.
func withBackend(
    _ kind: BackendKind,
    clock choice: ClockChoice = .manual,
    prefix: String = "locky:",
    _ body: (LockEnvironment) async throws -> Void
) async throws {
    let keyspace = try LockKeyspace(prefix: prefix)
    switch kind {
    case .memory:
        let manual = choice == .manual ? ManualLockClock() : nil
        let clock: any LockClock = manual ?? SystemLockClock()
        let memory = InMemoryLockBackend(clock: clock, keyspace: keyspace)
        let backend = RecordingBackend(memory)
        let environment = LockEnvironment(
            kind: kind,
            backend: backend,
            client: try LockClient(backend: backend, clock: clock),
            clock: clock,
            manualClock: manual,
            keyspace: keyspace,
            server: nil,
            raw: nil,
            memory: memory
        )
        try await body(environment)
    case .redis:
        try await RedisServer.withServer { server throws in
            let configuration = try RedisConfiguration(url: server.url)
            let raw = try RedisClient(configuration: configuration)
            let redis = try RedisLockBackend(
                configuration: configuration,
                keyspace: keyspace,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            try await warmUp(redis)
            _ = try await raw.execute(RESPCommand("FLUSHALL"))
            let backend = RecordingBackend(redis)
            let environment = LockEnvironment(
                kind: kind,
                backend: backend,
                client: try LockClient(backend: backend),
                clock: SystemLockClock(),
                manualClock: nil,
                keyspace: keyspace,
                server: server,
                raw: raw,
                memory: nil
            )
            do {
                try await body(environment)
            } catch {
                await redis.close()
                await raw.close()
                throw error
            }
            await redis.close()
            await raw.close()
        }
    case .redlock:
        let servers = try await RedisServer.startMany(3)
        var clients: [RedisClient] = []
        do {
            for server in servers { clients.append(try RedisClient(configuration: RedisConfiguration(url: server.url))) }
            let configuration = RedlockConfiguration(
                nodes: try servers.map { try RedisConfiguration(url: $0.url) }, nodeTimeout: .milliseconds(500))
            let redlock = try RedlockBackend(
                configuration: configuration,
                keyspace: keyspace,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            try await warmUp(redlock)
            for client in clients { _ = try await client.execute(RESPCommand("FLUSHALL")) }
            let backend = RecordingBackend(redlock)
            var environment = LockEnvironment(
                kind: kind,
                backend: backend,
                client: try LockClient(backend: backend),
                clock: SystemLockClock(),
                manualClock: nil,
                keyspace: keyspace,
                server: nil,
                raw: clients[0],
                memory: nil
            )
            environment.nodes = servers
            environment.nodeClients = clients
            do {
                try await body(environment)
            } catch {
                await redlock.close()
                throw error
            }
            await redlock.close()
        } catch {
            for client in clients { await client.close() }
            for server in servers { await server.stop() }
            throw error
        }
        for client in clients { await client.close() }
        for server in servers { await server.stop() }
    }
}

/// Connects and runs every script once, so a test's first call is one plain round trip even on a
/// loaded machine (short-TTL tests depend on it).
private func warmUp(_ backend: any LockBackend) async throws {
    _ = try await backend.acquire(["warm-up"], owner: "warm-up", ttl: .seconds(1))
    _ = try await backend.lock(["warm-up"], locker: "warm-up", ttl: nil, force: true)
    _ = try await backend.extend(["warm-up"], owner: "warm-up", ttl: .seconds(1), mode: .resetTo)
    _ = try await backend.refresh(["warm-up"], locker: nil, ttl: nil)
    _ = try await backend.holders(["warm-up"])
    _ = try await backend.unlock(["warm-up"], owner: nil)
    _ = try await backend.fencedWrite(key: "warm-up", value: ByteBuffer(), fencingToken: 0)
}

/// A failure of the test harness itself.
struct HarnessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Wraps a backend and counts the calls that reach it, so tests can prove that nothing was sent.
final class RecordingBackend: LockBackend {
    let inner: any LockBackend
    private let counter = Atomic<Int>(0)
    private let queuedWaiters = Mutex<[String: Set<String>]>([:])
    private let afterExtendHook = Mutex<(@Sendable () async -> Void)?>(nil)
    private let beforeFairAttemptHook = Mutex<(@Sendable (Int) async -> Void)?>(nil)
    private let latency = Mutex<Duration>(.zero)

    init(_ inner: any LockBackend) { self.inner = inner }

    /// Delays every request by `delay` before it reaches the backend (the memory backend's
    /// stand-in for a slow link to the server; event and wake-up delivery are not delayed).
    func setLatency(_ delay: Duration) { latency.withLock { $0 = delay } }

    private let renewalsLoseTheirAnswer = Atomic<Bool>(false)

    /// When set, each renewal runs on the backend and then fails as if its answer were lost.
    func renewalsLoseTheirAnswer(_ lose: Bool) { renewalsLoseTheirAnswer.store(lose, ordering: .relaxed) }

    private let holdersFailures = Atomic<Int>(0)
    private let listingFailures = Atomic<Int>(0)

    /// Makes the next `count` holders calls fail (as if the connection dropped) without reaching the backend.
    func failNextHolders(_ count: Int) { holdersFailures.store(count, ordering: .relaxed) }

    /// Makes the next `count` lock listings fail (as if the connection dropped) without reaching the backend.
    func failNextListings(_ count: Int) { listingFailures.store(count, ordering: .relaxed) }

    /// Takes one of the failures set with ``failNextHolders(_:)`` or ``failNextListings(_:)``.
    private static func takeFailure(_ failures: borrowing Atomic<Int>) -> Bool {
        var left = failures.load(ordering: .relaxed)
        while left > 0 {
            let (exchanged, original) = failures.compareExchange(
                expected: left, desired: left - 1, ordering: .relaxed)
            if exchanged { return true }
            left = original
        }
        return false
    }

    private let unlockHook = Mutex<(@Sendable () async throws(LockError) -> Void)?>(nil)
    private let afterHoldersHook = Mutex<(@Sendable ([String]) async -> Void)?>(nil)
    private let beforeRenewHook = Mutex<(@Sendable () async -> Void)?>(nil)

    /// Runs `hook` before each unlock reaches the backend; an error it throws fails the unlock
    /// there, unsent (a connection that dropped before the release was written).
    func beforeUnlock(_ hook: (@Sendable () async throws(LockError) -> Void)?) { unlockHook.withLock { $0 = hook } }

    /// Runs `hook` with the resources of each holders call after it has run on the backend,
    /// before its answer is returned (an answer that comes late, after newer events).
    func afterHolders(_ hook: (@Sendable ([String]) async -> Void)?) { afterHoldersHook.withLock { $0 = hook } }

    /// Runs `hook` before each renewal reaches the backend (with it sent after whatever the hook did).
    func beforeRenew(_ hook: (@Sendable () async -> Void)?) { beforeRenewHook.withLock { $0 = hook } }

    /// Runs `hook` after each extend has run on the backend, before its answer is returned.
    func afterExtend(_ hook: (@Sendable () async -> Void)?) { afterExtendHook.withLock { $0 = hook } }

    /// Runs `hook` with each fair attempt's number before the attempt reaches the backend, so a
    /// test can change the world between a waiter's attempts at an exact point.
    func beforeFairAttempt(_ hook: (@Sendable (Int) async -> Void)?) { beforeFairAttemptHook.withLock { $0 = hook } }

    /// How many calls reached the backend.
    var calls: Int { counter.load(ordering: .relaxed) }

    /// How many fair waiters the backend has queued on `resource` so far (each counted once,
    /// from the first fair attempt it answered `queued`, and still counted after it left).
    func waitersQueued(on resource: String) -> Int { queuedWaiters.withLock { $0[resource]?.count ?? 0 } }

    /// Counts a call, after the latency set with ``setLatency(_:)``.
    private func count() async {
        let delay = latency.withLock { $0 }
        if delay > .zero { try? await Task.sleep(for: delay) }
        counter.add(1, ordering: .relaxed)
    }

    var name: String { inner.name }

    func acquire(_ resources: [String], owner: String, ttl: Duration?) async throws(LockError) -> AcquireReply {
        await count()
        return try await inner.acquire(resources, owner: owner, ttl: ttl)
    }

    func lock(_ resources: [String], locker: String, ttl: Duration?, force: Bool) async throws(LockError) -> [LockOutcome] {
        await count()
        return try await inner.lock(resources, locker: locker, ttl: ttl, force: force)
    }

    func extend(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) async throws(LockError) -> ExtendReply {
        await count()
        let reply = try await inner.extend(resources, owner: owner, ttl: ttl, mode: mode)
        if let hook = afterExtendHook.withLock({ $0 }) { await hook() }
        return reply
    }

    func renew(_ items: [RenewalItem]) async throws(LockError) -> [RenewalResult] {
        await count()
        if let hook = beforeRenewHook.withLock({ $0 }) { await hook() }
        let results = try await inner.renew(items)
        if renewalsLoseTheirAnswer.load(ordering: .relaxed) {
            throw LockError(.backendUnavailable, "the answer was lost (test)")
        }
        return results
    }

    func unlock(_ resources: [String], owner: String?) async throws(LockError) -> [UnlockOutcome] {
        await count()
        if let hook = unlockHook.withLock({ $0 }) { try await hook() }
        return try await inner.unlock(resources, owner: owner)
    }

    func refresh(_ resources: [String], locker: String?, ttl: Duration?) async throws(LockError) -> [RefreshOutcome] {
        await count()
        return try await inner.refresh(resources, locker: locker, ttl: ttl)
    }

    func holders(_ resources: [String]) async throws(LockError) -> [LockHolder?] {
        await count()
        if Self.takeFailure(holdersFailures) { throw LockError(.backendUnavailable, "the connection dropped (test)") }
        let holders = try await inner.holders(resources)
        if let hook = afterHoldersHook.withLock({ $0 }) { await hook(resources) }
        return holders
    }

    func lockedResources() async throws(LockError) -> [String] {
        await count()
        if Self.takeFailure(listingFailures) { throw LockError(.backendUnavailable, "the connection dropped (test)") }
        return try await inner.lockedResources()
    }

    func fencedWrite(key: String, value: ByteBuffer, fencingToken: Int64) async throws(LockError) -> FencedWriteOutcome {
        await count()
        return try await inner.fencedWrite(key: key, value: value, fencingToken: fencingToken)
    }

    func fencedRead(key: String) async throws(LockError) -> FencedValue? {
        await count()
        return try await inner.fencedRead(key: key)
    }

    func fencedRead(key: String, fencingToken: Int64) async throws(LockError) -> FencedReadOutcome {
        await count()
        return try await inner.fencedRead(key: key, fencingToken: fencingToken)
    }

    func withEvents<T: Sendable>(expirations: Bool, _ body: (LockEventStream) async throws -> T) async throws -> T {
        try await inner.withEvents(expirations: expirations, body)
    }

    /// Forwarded, so waiting acquires through this wrapper take the backend's own (push) path.
    func withEventHandler<T: Sendable>(
        expirations: Bool,
        _ handler: @escaping @Sendable (LockEvent) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await inner.withEventHandler(expirations: expirations, handler, body)
    }

    /// Forwarded, so waiting acquires through this wrapper wait as they would without it.
    var handsOverToWaiters: Bool { inner.handsOverToWaiters }

    /// Forwarded, so waiting acquires through this wrapper listen as they would without it.
    func withWakeHandler<T: Sendable>(
        waiter: String?,
        _ handler: @escaping @Sendable (WakeHint) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await inner.withWakeHandler(waiter: waiter, handler, body)
    }

    /// Forwarded, so a waiting acquire's subscription is bounded by its deadline as without it.
    func withWakeHandler<T: Sendable>(
        waiter: String?,
        subscribeWait: Duration?,
        _ handler: @escaping @Sendable (WakeHint) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await inner.withWakeHandler(waiter: waiter, subscribeWait: subscribeWait, handler, body)
    }

    func acquireFair(
        _ resource: String,
        owner: String,
        ttl: Duration?,
        waiter: String,
        waiterTTL: Duration,
        attempt: Int
    ) async throws(LockError) -> FairAcquireReply {
        if let hook = beforeFairAttemptHook.withLock({ $0 }) { await hook(attempt) }
        await count()
        let reply = try await inner.acquireFair(
            resource, owner: owner, ttl: ttl, waiter: waiter, waiterTTL: waiterTTL, attempt: attempt)
        if case .queued = reply { queuedWaiters.withLock { _ = $0[resource, default: []].insert(waiter) } }
        return reply
    }

    func leaveQueue(_ resource: String, waiter: String, owner: String) async throws(LockError) {
        await count()
        try await inner.leaveQueue(resource, waiter: waiter, owner: owner)
    }

    /// Forwarded, so waiters run on the backend's preferred executor as they would without the wrapper.
    var preferredTaskExecutor: (any TaskExecutor)? { inner.preferredTaskExecutor }

    func close() async { await inner.close() }
}

extension RESPToken {
    /// A bulk or simple string as text; nil for null.
    var stringValue: String? {
        switch value {
        case .bulkString(let bytes), .simpleString(let bytes): return String(buffer: bytes)
        default: return nil
        }
    }
}

extension Duration {
    /// Whole milliseconds, truncated.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// Runs `body`, expecting a ``LockError`` with `code`; returns it for further checks.
@discardableResult
func expectLockError(
    _ code: LockError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> LockError? {
    do {
        try await body()
        Issue.record("expected LockError \(code), but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as LockError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected LockError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Whether `owner` is a lease owner: 32 lowercase hex digits (128 bits), after an optional `label/`.
func isLeaseOwner(_ owner: String, label: String? = nil) -> Bool {
    let token: Substring
    if let label {
        guard owner.hasPrefix(label + "/") else { return false }
        token = owner.dropFirst(label.count + 1)
    } else {
        token = owner[...]
    }
    return token.utf8.count == 32 && token.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
}

/// A value shared between tasks (a `Mutex` that closures can capture).
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    var value: Value { mutex.withLock { $0 } }

    func update<R: Sendable>(_ body: @Sendable (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
