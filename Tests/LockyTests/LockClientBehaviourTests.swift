import Locky
import LockyRedis
import LockyTestSupport
import NIOCore
import Testing

/// Client logic that does not depend on the backend: hand-over validity, cancellation, lost
/// replies. Driven through backends that misbehave on purpose.
@Suite("LockClient behaviour")
struct LockClientBehaviourTests {
    /// node-redlock #296: a lease whose TTL ran out while the acquire was in flight must not be
    /// handed out, and the lock it took must be given back.
    @Test func leaseThatExpiredInFlightIsNotHandedOver() async throws {
        let clock = ManualLockClock()
        let memory = InMemoryLockBackend(clock: clock)
        let slow = ScriptedBackend(memory) { operation in
            if operation == "acquire" { clock.advance(by: .seconds(2)) }
        }
        let client = try LockClient(backend: slow, clock: clock)
        let error = await expectLockError(.alreadyExpired) {
            _ = try await client.tryAcquire("r", ttl: .seconds(2))
        }
        #expect(error != nil)
        #expect(try await memory.holders(["r"]) == [nil])
        // Just inside the drift allowance it is handed over, and valid.
        let fine = ScriptedBackend(memory) { operation in
            if operation == "acquire" { clock.advance(by: .milliseconds(1900)) }
        }
        let lease = try await LockClient(backend: fine, clock: clock).tryAcquire("r", ttl: .seconds(2))
        #expect(lease.isValid)
    }

    @Test func cancellationWhileWaitingToRetry() async throws {
        let clock = ManualLockClock()
        let memory = InMemoryLockBackend(clock: clock)
        let client = try LockClient(backend: memory, clock: clock)
        _ = try await client.acquire("r", ttl: .seconds(60))
        let task = Task {
            try await client.acquire("r", ttl: .seconds(1), retry: RetryPolicy(count: -1, delay: .seconds(1), jitter: .zero))
        }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        // Wake the retry sleep in case the clock does not notice cancellation by itself.
        let waker = Task {
            try await Task.sleep(for: .seconds(2))
            clock.advance(by: .seconds(3600))
        }
        let started = ContinuousClock.now
        await expectLockError(.cancelled) { _ = try await task.value }
        #expect(ContinuousClock.now - started < .seconds(1), "cancellation was not noticed during the retry sleep")
        waker.cancel()
    }

    @Test func waitingAcquireOnAManualClockGetsTheLockWhenReleased() async throws {
        let clock = ManualLockClock()
        let memory = InMemoryLockBackend(clock: clock)
        let client = try LockClient(backend: memory, clock: clock)
        let holder = try await client.acquire("r", ttl: .seconds(60))
        let task = Task {
            try await client.acquire("r", ttl: .seconds(5), retry: RetryPolicy(count: 5, delay: .seconds(1), jitter: .zero))
        }
        try await Task.sleep(for: .milliseconds(30))
        #expect(try await client.release(holder) == .released)
        // Move time on in steps, in case the waiter polls on the clock rather than being woken.
        let mover = Task {
            for _ in 0..<10 {
                try await Task.sleep(for: .milliseconds(20))
                clock.advance(by: .seconds(1))
            }
        }
        let lease = try await task.value
        mover.cancel()
        #expect(lease.fencingToken == holder.fencingToken + 1)
        #expect(lease.isValid)
    }

    /// An acquire whose reply was lost may still have taken the lock: the client gives it back
    /// instead of leaving it locked for a whole TTL.
    @Test func lostAcquireReplyDoesNotLeaveAnOrphanedLock() async throws {
        let memory = InMemoryLockBackend()
        let lossy = ScriptedBackend(memory, failAfter: ["acquire"]) { _ in }
        let client = try LockClient(backend: lossy)
        await expectLockError(.backendUnavailable) {
            _ = try await client.tryAcquire(["a", "b"], ttl: .seconds(30))
        }
        #expect(try await memory.holders(["a", "b"]) == [nil, nil])
    }

    /// The same on a real redis-server: the acquire runs, but its reply comes later than the
    /// command timeout (a fault proxy delays everything the server sends by 1 s). The client
    /// reports `backendUnavailable` and gives the lock back, well inside its 30 s TTL.
    @Test func lostAcquireReplyOnRedisDoesNotLeaveAnOrphanedLock() async throws {
        try await RedisServer.withServer { server throws in
            try await FaultProxy.withProxy(upstream: server.port) { proxy in
                let client = try LockClient(configuration: LockyConfiguration(url: proxy.url + "?command_timeout=300ms"))
                // Connected, scripts loaded: the acquire below is one plain round trip.
                #expect(try await client.release(try await client.tryAcquire("warm-up", ttl: .seconds(5))) == .released)
                proxy.set(.latency(.seconds(1), direction: .serverToClient))
                let started = ContinuousClock.now
                await expectLockError(.backendUnavailable) {
                    _ = try await client.tryAcquire(["a", "b"], ttl: .seconds(30))
                }
                // The acquire did run: both fencing counters moved.
                #expect(try server.cli("GET", "locky:{a}:fence") == "1")
                #expect(try server.cli("GET", "locky:{b}:fence") == "1")
                let released = try await eventually(within: .seconds(5)) {
                    try server.cli("EXISTS", "locky:{a}", "locky:{b}") == "0"
                }
                #expect(released, "the lock taken by the lost acquire is still held \(ContinuousClock.now - started) later")
                proxy.set(.latency(.zero))
                await client.close()
            }
        }
    }

    @Test func backendFailureOnReleaseIsReported() async throws {
        let memory = InMemoryLockBackend()
        let failing = ScriptedBackend(memory, failAfter: ["unlock"]) { _ in }
        let client = try LockClient(backend: failing)
        let lease = try await client.acquire("r", ttl: .seconds(30))
        await expectLockError(.backendUnavailable) { _ = try await client.release(lease) }
        // The outcome is unknown, so a second release must try again rather than answer
        // "already released" without sending anything.
        failing.failAfter.update { $0 = [] }
        _ = try await memory.acquire(["r"], owner: lease.owner, ttl: .seconds(30))
        #expect(try await client.release(lease) == .released)
        #expect(try await memory.holders(["r"]) == [nil])
        #expect(try await client.release(lease) == .alreadyReleased)
    }

    @Test func withClientClosesAndReturns() async throws {
        let value = try await LockClient.withClient(configuration: LockyConfiguration(backend: .memory)) { client in
            let lease = try await client.acquire("r", ttl: .seconds(30))
            return try await client.release(lease)
        }
        #expect(value == .released)
    }
}

/// A backend that runs a hook before each operation and can fail an operation after it ran
/// (as a connection lost before the reply would).
final class ScriptedBackend: LockBackend {
    let inner: any LockBackend
    let hook: @Sendable (String) -> Void
    /// Operations that fail after running; change it to heal the backend.
    let failAfter: Shared<Set<String>>
    private let counts = Shared<[String: Int]>([:])

    init(_ inner: any LockBackend, failAfter: Set<String> = [], hook: @escaping @Sendable (String) -> Void) {
        self.inner = inner
        self.hook = hook
        self.failAfter = Shared(failAfter)
    }

    var name: String { "scripted" }

    func count(_ operation: String) -> Int { counts.value[operation, default: 0] }

    private func around<T>(_ operation: String, _ body: () async throws(LockError) -> T) async throws(LockError) -> T {
        counts.update { $0[operation, default: 0] += 1 }
        hook(operation)
        let result = try await body()
        if failAfter.value.contains(operation) {
            throw LockError(
                .backendUnavailable,
                "\(operation): connection lost",
                underlying: RedisClientError(.connectionLost, "connection lost", mayHaveRun: true)
            )
        }
        return result
    }

    func acquire(_ resources: [String], owner: String, ttl: Duration?) async throws(LockError) -> AcquireReply {
        try await around("acquire") { () async throws(LockError) in try await inner.acquire(resources, owner: owner, ttl: ttl) }
    }

    func lock(_ resources: [String], locker: String, ttl: Duration?, force: Bool) async throws(LockError) -> [LockOutcome] {
        try await around("lock") { () async throws(LockError) in
            try await inner.lock(resources, locker: locker, ttl: ttl, force: force)
        }
    }

    func extend(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) async throws(LockError) -> ExtendReply {
        try await around("extend") { () async throws(LockError) in
            try await inner.extend(resources, owner: owner, ttl: ttl, mode: mode)
        }
    }

    func renew(_ items: [RenewalItem]) async throws(LockError) -> [RenewalResult] {
        try await around("renew") { () async throws(LockError) in try await inner.renew(items) }
    }

    func unlock(_ resources: [String], owner: String?) async throws(LockError) -> [UnlockOutcome] {
        try await around("unlock") { () async throws(LockError) in try await inner.unlock(resources, owner: owner) }
    }

    func refresh(_ resources: [String], locker: String?, ttl: Duration?) async throws(LockError) -> [RefreshOutcome] {
        try await around("refresh") { () async throws(LockError) in try await inner.refresh(resources, locker: locker, ttl: ttl) }
    }

    func holders(_ resources: [String]) async throws(LockError) -> [LockHolder?] {
        try await around("holders") { () async throws(LockError) in try await inner.holders(resources) }
    }

    func fencedWrite(key: String, value: ByteBuffer, fencingToken: Int64) async throws(LockError) -> FencedWriteOutcome {
        try await around("fencedWrite") { () async throws(LockError) in
            try await inner.fencedWrite(key: key, value: value, fencingToken: fencingToken)
        }
    }

    func fencedRead(key: String) async throws(LockError) -> FencedValue? {
        try await around("fencedRead") { () async throws(LockError) in try await inner.fencedRead(key: key) }
    }

    func withEvents<T: Sendable>(expirations: Bool, _ body: (LockEventStream) async throws -> T) async throws -> T {
        try await inner.withEvents(expirations: expirations, body)
    }

    func close() async { await inner.close() }
}

/// `withLock` returns the body's value only if the lease was still valid when the body returned.
@Suite("withLock and a body that outlives its lease")
struct OutlivedLeaseTests {
    /// A body whose process was paused (here: time jumps on a manual clock) returns after the
    /// lease's validity passed, before the renewal loop could notice: withLock throws lockLost.
    @Test func aBodyThatReturnsAfterTheValidityIsReportedAsLost() async throws {
        try await withBackend(.memory) { env throws in
            let clock = try #require(env.manualClock)
            let error = await expectLockError(.lockLost) {
                _ = try await env.client.withLock("r", ttl: .seconds(3)) { _ in
                    clock.advance(by: .seconds(10))
                    return 42
                }
            }
            #expect(error?.resource == "r")
            // Nothing is left behind either way.
            #expect(try await env.storedOwner("r") == nil)
        }
    }

    @Test func aBodyThatReturnsInTimeKeepsItsValue() async throws {
        try await withBackend(.memory) { env throws in
            let clock = try #require(env.manualClock)
            let value = try await env.client.withLock("r", ttl: .seconds(3)) { _ in
                clock.advance(by: .milliseconds(500))
                return 42
            }
            #expect(value == 42)
        }
    }
}
