import Locky
import NIOCore

/// A backend that forwards everything to `inner`, running `beforeFairAttempt` before each
/// fair acquire attempt (with its number), so a test can change the world between a waiter's
/// attempts at an exact point: races that real timing hits only rarely.
final class HookedFairBackend: LockBackend {
    let inner: any LockBackend
    let beforeFairAttempt: @Sendable (Int) async throws -> Void

    init(_ inner: any LockBackend, beforeFairAttempt: @escaping @Sendable (Int) async throws -> Void) {
        self.inner = inner
        self.beforeFairAttempt = beforeFairAttempt
    }

    var name: String { inner.name }
    var preferredTaskExecutor: (any TaskExecutor)? { inner.preferredTaskExecutor }
    var handsOverToWaiters: Bool { inner.handsOverToWaiters }
    var recreatesMissingLocks: Bool { inner.recreatesMissingLocks }

    func acquireFair(
        _ resource: String, owner: String, ttl: Duration?, waiter: String, waiterTTL: Duration, attempt: Int
    ) async throws(LockError) -> FairAcquireReply {
        do {
            try await beforeFairAttempt(attempt)
        } catch {
            throw LockError(.serverError, "the test's hook failed: \(error)")
        }
        return try await inner.acquireFair(
            resource, owner: owner, ttl: ttl, waiter: waiter, waiterTTL: waiterTTL, attempt: attempt)
    }

    func leaveQueue(_ resource: String, waiter: String, owner: String) async throws(LockError) {
        try await inner.leaveQueue(resource, waiter: waiter, owner: owner)
    }

    func withWakeHandler<T: Sendable>(
        waiter: String?, _ handler: @escaping @Sendable (WakeHint) -> Void, _ body: () async throws -> T
    ) async throws -> T {
        try await inner.withWakeHandler(waiter: waiter, handler, body)
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
        try await inner.renew(items)
    }

    func unlock(_ resources: [String], owner: String?) async throws(LockError) -> [UnlockOutcome] {
        try await inner.unlock(resources, owner: owner)
    }

    func refresh(_ resources: [String], locker: String?, ttl: Duration?) async throws(LockError) -> [RefreshOutcome] {
        try await inner.refresh(resources, locker: locker, ttl: ttl)
    }

    func holders(_ resources: [String]) async throws(LockError) -> [LockHolder?] {
        try await inner.holders(resources)
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
        expirations: Bool, _ handler: @escaping @Sendable (LockEvent) -> Void, _ body: () async throws -> T
    ) async throws -> T {
        try await inner.withEventHandler(expirations: expirations, handler, body)
    }

    func close() async { await inner.close() }
}
