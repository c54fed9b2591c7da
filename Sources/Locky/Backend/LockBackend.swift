import NIOCore

/// Where locks live. Locky ships three: ``RedisLockBackend`` (one Redis node),
/// ``InMemoryLockBackend`` (one process) and ``RedlockBackend`` (a quorum of independent
/// Redis nodes). All pass one conformance suite.
///
/// Every method takes many resources and answers per resource, in one round trip. Arguments
/// arrive validated (non-empty, unique, within ``LockLimits``). A backend throws ``LockError``
/// with `backendUnavailable` or `serverError` for infrastructure failures only; contention is
/// an outcome, not an error.
public protocol LockBackend: Sendable {
    /// A short name for logs and metrics, e.g. `redis`.
    var name: String { get }

    /// All-or-nothing: takes every resource for `owner`, or none. A resource already held by
    /// `owner` counts as taken (so retrying an acquire whose reply was lost is safe). Each
    /// taken resource gets a new fencing token.
    func acquire(_ resources: [String], owner: String, ttl: Duration?) async throws(LockError) -> AcquireReply

    /// ``acquire(_:owner:ttl:)`` whose caller waits at most `replyWait` for the answer (nil: as
    /// long as the backend's own timeouts allow); a waiting acquire passes the time left
    /// before its deadline. When the limit passes first, throws `backendUnavailable` whose
    /// ``LockError/underlying`` error is a `timeout` with `mayHaveRun` set (Redlock:
    /// `quorumNotReached`, the silent nodes `timedOut`), and the call keeps its place: what the
    /// caller sends next through this backend reaches the server after it, so a release
    /// cannot overtake it. A default calls ``acquire(_:owner:ttl:)`` (for backends whose calls
    /// never block, like the in-memory one).
    func acquire(_ resources: [String], owner: String, ttl: Duration?, replyWait: Duration?) async throws(LockError)
        -> AcquireReply

    /// Per resource: takes it for `locker` when free (or always, with `force`); when `locker`
    /// already holds it, resets its TTL. A busy resource is left untouched.
    func lock(_ resources: [String], locker: String, ttl: Duration?, force: Bool) async throws(LockError) -> [LockOutcome]

    /// All-or-nothing: resets the TTL of every resource, only if all are still held by `owner`.
    func extend(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) async throws(LockError) -> ExtendReply

    /// ``extend(_:owner:ttl:mode:)`` with ``ExtendMode/addTo``, answering too, when extended, the
    /// least time every resource is sure to stay locked from when the call began, if that can be
    /// less than its expiry before plus `amount`; nil when it cannot. On Redlock it can: each
    /// node adds to its own expiry, and the quorum that confirms the extend need not be the one
    /// whose expiry the lease counted on (a node that missed an earlier extend or renewal is
    /// behind). A default calls ``extend(_:owner:ttl:mode:)`` and answers nil.
    func extend(_ resources: [String], owner: String, adding amount: Duration) async throws(LockError)
        -> (reply: ExtendReply, lastsAtLeast: Duration?)

    /// Renews many leases in one call: each item's lock gets its TTL reset if `owner` still
    /// holds it. Not all-or-nothing across items; one result per item, in order.
    func renew(_ items: [RenewalItem]) async throws(LockError) -> [RenewalResult]

    /// Per resource: removes the lock; with an `owner`, only where `owner` holds it.
    func unlock(_ resources: [String], owner: String?) async throws(LockError) -> [UnlockOutcome]

    /// ``unlock(_:owner:)`` whose caller waits at most `replyWait` for the answer, as in
    /// ``acquire(_:owner:ttl:replyWait:)``; `.zero` sends it in its place (behind what was
    /// sent before) without waiting: how a waiting acquire gives back what an attempt it
    /// abandoned at its deadline may still take. A default calls ``unlock(_:owner:)``.
    func unlock(_ resources: [String], owner: String?, replyWait: Duration?) async throws(LockError) -> [UnlockOutcome]

    /// Per resource: resets the TTL of a held lock (with a `locker`, only where it holds it);
    /// never creates one. A nil `ttl` removes the expiry.
    func refresh(_ resources: [String], locker: String?, ttl: Duration?) async throws(LockError) -> [RefreshOutcome]

    /// Per resource: the holder, or nil when free.
    func holders(_ resources: [String]) async throws(LockError) -> [LockHolder?]

    /// Stores `value` under `key` only if `fencingToken` ≥ the highest token seen for it.
    func fencedWrite(key: String, value: ByteBuffer, fencingToken: Int64) async throws(LockError) -> FencedWriteOutcome

    /// Reads a value stored by ``fencedWrite(key:value:fencingToken:)``.
    func fencedRead(key: String) async throws(LockError) -> FencedValue?

    /// Reads `key`'s value only if `fencingToken` ≥ the highest token seen for it, and raises
    /// the key's fence to `fencingToken` in the same step, so a read-modify-write by the holder
    /// of `fencingToken` cannot interleave with a write of an older holder.
    func fencedRead(key: String, fencingToken: Int64) async throws(LockError) -> FencedReadOutcome

    /// Runs `body` with this backend's lock events. The stream is live when `body` starts:
    /// every change made after that is delivered (that is what makes waiting race-free).
    /// With `expirations`, expiry events are included too (on Redis this needs keyspace
    /// notifications; see ``RedisLockBackend``).
    func withEvents<T: Sendable>(expirations: Bool, _ body: (LockEventStream) async throws -> T) async throws -> T

    /// Runs `body` while `handler` receives this backend's lock events as they arrive; live
    /// when `body` starts, like ``withEvents(expirations:_:)``. `handler` must be quick: it may
    /// run on an I/O thread. A default implementation pumps ``withEvents(expirations:_:)``.
    func withEventHandler<T: Sendable>(
        expirations: Bool,
        _ handler: @escaping @Sendable (LockEvent) -> Void,
        _ body: () async throws -> T
    ) async throws -> T

    /// Fair (FIFO across processes) acquire of one resource for `owner`, waiting as `waiter`
    /// (a public id): taken only when free and `waiter` is first in the resource's queue;
    /// otherwise `waiter` is queued once and its liveness refreshed for `waiterTTL`. Waiters
    /// that stop refreshing are evicted. A backend may hand a released lock straight to the
    /// first live waiter (a ``WakeHint/handedOver(resource:waiter:fencingToken:attempt:)``
    /// wake-up naming `attempt`, the number of this call within one waiting acquire).
    func acquireFair(
        _ resource: String, owner: String, ttl: Duration?, waiter: String, waiterTTL: Duration, attempt: Int
    ) async throws(LockError) -> FairAcquireReply

    /// ``acquireFair(_:owner:ttl:waiter:waiterTTL:attempt:)`` whose caller waits at most
    /// `replyWait` for the answer, as in ``acquire(_:owner:ttl:replyWait:)``. A default calls
    /// the one without a limit.
    func acquireFair(
        _ resource: String, owner: String, ttl: Duration?, waiter: String, waiterTTL: Duration, attempt: Int,
        replyWait: Duration?
    ) async throws(LockError) -> FairAcquireReply

    /// Removes `waiter` from `resource`'s fair queue; gives back a lock handed to `owner`
    /// meanwhile, and lets the next waiter have a free lock.
    func leaveQueue(_ resource: String, waiter: String, owner: String) async throws(LockError)

    /// ``leaveQueue(_:waiter:owner:)`` whose caller waits at most `replyWait` for the answer,
    /// as in ``unlock(_:owner:replyWait:)``. A default calls the one without a limit.
    func leaveQueue(_ resource: String, waiter: String, owner: String, replyWait: Duration?) async throws(LockError)

    /// Runs `body` while `handler` receives wake-up hints (releases naming the next fair
    /// waiter, expiries, gaps), like ``withEventHandler(expirations:_:_:)``. With a fair
    /// `waiter` id (`<client token>.<n>`), only the wake-ups addressed to that waiter's client
    /// are needed, so a backend may listen to those alone.
    func withWakeHandler<T: Sendable>(
        waiter: String?,
        _ handler: @escaping @Sendable (WakeHint) -> Void,
        _ body: () async throws -> T
    ) async throws -> T

    /// ``withWakeHandler(waiter:_:_:)`` whose subscription waits at most `subscribeWait` for
    /// the server's confirmation (nil: the backend's own timeout), before `body` runs: a
    /// waiting acquire passes the time left before its deadline, so a server that does not
    /// answer cannot hold it past its timeout. An unconfirmed subscription throws (Redis: a
    /// `RedisClientError` `timeout`, and only that subscription ends; the client's shared
    /// subscriber connection stays). A default calls the one without a limit.
    func withWakeHandler<T: Sendable>(
        waiter: String?,
        subscribeWait: Duration?,
        _ handler: @escaping @Sendable (WakeHint) -> Void,
        _ body: () async throws -> T
    ) async throws -> T

    /// Where tasks that mostly talk to this backend run best (the connection's own thread),
    /// or nil. Waiting acquires run there, so a wake-up costs no thread switch.
    var preferredTaskExecutor: (any TaskExecutor)? { get }

    /// Whether a release hands the lock to the first queued waiter itself (fair queue plus
    /// ``WakeHint/handedOver(resource:waiter:fencingToken:attempt:)``). When true, waiting
    /// acquires of one resource queue even without `fair`, after one ordinary attempt.
    var handsOverToWaiters: Bool { get }

    /// Whether extend and renewal re-create a lock key that a node lost (Redlock's
    /// re-creating extend). Such an extend must never run after the lease's validity passed:
    /// re-created keys could then span another owner's hold.
    var recreatesMissingLocks: Bool { get }

    /// Every resource whose lock key exists, in no particular order: found with `SCAN` (never
    /// `KEYS`) on Redis; on Redlock the union of the nodes that answered, of which a quorum must.
    /// For ``LockClient/heldLocks(matching:)`` and the expiry watcher.
    func lockedResources() async throws(LockError) -> [String]

    /// Releases connections.
    func close() async
}

extension LockBackend {
    /// No preference.
    public var preferredTaskExecutor: (any TaskExecutor)? { nil }

    /// No hand-off by default.
    public var handsOverToWaiters: Bool { false }

    /// No re-creation by default.
    public var recreatesMissingLocks: Bool { false }

    /// An add-to extend whose keys each get their expiry plus `amount` (one node, or one process).
    public func extend(_ resources: [String], owner: String, adding amount: Duration) async throws(LockError)
        -> (reply: ExtendReply, lastsAtLeast: Duration?)
    {
        (try await extend(resources, owner: owner, ttl: amount, mode: .addTo), nil)
    }

    /// Unsupported by default.
    public func acquireFair(
        _ resource: String, owner: String, ttl: Duration?, waiter: String, waiterTTL: Duration, attempt: Int
    ) async throws(LockError) -> FairAcquireReply {
        throw LockError(.invalidArgument, "the \(name) backend has no fair mode")
    }

    /// Unsupported by default (a backend of your own may not have it).
    public func fencedRead(key: String, fencingToken: Int64) async throws(LockError) -> FencedReadOutcome {
        throw LockError(.invalidArgument, "the \(name) backend has no token-checked read")
    }

    /// Unsupported by default (a backend of your own may not have it).
    public func lockedResources() async throws(LockError) -> [String] {
        throw LockError(.invalidArgument, "the \(name) backend cannot list its locks")
    }

    /// Nothing to leave by default.
    public func leaveQueue(_ resource: String, waiter: String, owner: String) async throws(LockError) {}

    /// No reply wait to bound by default: the acquire as it is.
    public func acquire(_ resources: [String], owner: String, ttl: Duration?, replyWait: Duration?) async throws(LockError)
        -> AcquireReply
    {
        try await acquire(resources, owner: owner, ttl: ttl)
    }

    /// No reply wait to bound by default: the unlock as it is.
    public func unlock(_ resources: [String], owner: String?, replyWait: Duration?) async throws(LockError)
        -> [UnlockOutcome]
    {
        try await unlock(resources, owner: owner)
    }

    /// No reply wait to bound by default: the fair acquire as it is.
    public func acquireFair(
        _ resource: String, owner: String, ttl: Duration?, waiter: String, waiterTTL: Duration, attempt: Int,
        replyWait: Duration?
    ) async throws(LockError) -> FairAcquireReply {
        try await acquireFair(resource, owner: owner, ttl: ttl, waiter: waiter, waiterTTL: waiterTTL, attempt: attempt)
    }

    /// No reply wait to bound by default: leaves the queue as it is.
    public func leaveQueue(_ resource: String, waiter: String, owner: String, replyWait: Duration?) async throws(LockError) {
        try await leaveQueue(resource, waiter: waiter, owner: owner)
    }

    /// No subscription to bound by default: the wake handler as it is.
    public func withWakeHandler<T: Sendable>(
        waiter: String?,
        subscribeWait: Duration?,
        _ handler: @escaping @Sendable (WakeHint) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withWakeHandler(waiter: waiter, handler, body)
    }

    /// Hints from ``withEventHandler(expirations:_:_:)`` (without the next waiter).
    public func withWakeHandler<T: Sendable>(
        waiter: String?,
        _ handler: @escaping @Sendable (WakeHint) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withEventHandler(
            expirations: false,
            { event in
                switch event {
                case .unlocked(let resource), .expired(let resource): handler(.released(resource: resource, next: nil))
                case .gap: handler(.gap)
                case .locked, .error: break
                }
            }, body)
    }

    /// Pumps ``withEvents(expirations:_:)`` into `handler` from a child task.
    public func withEventHandler<T: Sendable>(
        expirations: Bool,
        _ handler: @escaping @Sendable (LockEvent) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withEvents(expirations: expirations) { events in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in events { handler(event) }
                }
                defer { group.cancelAll() }
                return try await body()
            }
        }
    }
}
