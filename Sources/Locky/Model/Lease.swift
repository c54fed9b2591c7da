import Synchronization

/// A successful acquisition: the resources, the owner token, a fencing token per resource,
/// and a validity deadline on a monotonic clock.
///
/// A lease is valid when handed over. Its validity is `start + ttl − elapsed − drift`, where
/// `start` is read before the acquire was sent, so it never claims more than the backend grants.
public final class Lease: Sendable, CustomStringConvertible {
    private struct State {
        var validUntil: ContinuousClock.Instant
        var released = false
        /// ``states()`` streams end: released for good (the backend answered), or `withLock` is
        /// done with the lease.
        var ended = false
        /// A release was answered: released for good.
        var releaseAnswered = false
        var loss: LeaseLoss?
        var observers: [UInt64: AsyncStream<LeaseState>.Continuation] = [:]
        var lossWaiters: [UInt64: CheckedContinuation<LeaseLoss?, Never>] = [:]
        var nextObserver: UInt64 = 0
        /// Extends and renewals under way, and whether two of them overlapped since none was.
        var updatesInFlight = 0
        var updatesOverlapped = false
        /// Told when the validity moves earlier: the renewal loops that renew the lease, by loop.
        var validityWatchers: [ObjectIdentifier: @Sendable () -> Void] = [:]
    }

    /// The resources held, in the order given.
    public let resources: [String]
    /// The owner string stored in the lock keys (label and 128-bit secret token). Not printed by
    /// ``description``; never log it.
    public let owner: String
    /// One fencing token per resource, in the order of ``resources``; strictly increasing per resource.
    public let fencingTokens: [Int64]
    /// The TTL the lease was acquired with.
    public let ttl: Duration
    let clock: any LockClock
    private let state: Mutex<State>

    init(
        resources: [String], owner: String, fencingTokens: [Int64], ttl: Duration, validUntil: ContinuousClock.Instant,
        clock: any LockClock
    ) {
        self.resources = resources
        self.owner = owner
        self.fencingTokens = fencingTokens
        self.ttl = ttl
        self.clock = clock
        self.state = Mutex(State(validUntil: validUntil))
    }

    /// The fencing token of the first (or only) resource.
    public var fencingToken: Int64 { fencingTokens[0] }

    /// The fencing token of `resource`, or nil when the lease does not hold it. Names match
    /// byte for byte, as Redis keys do.
    public func fencingToken(for resource: String) -> Int64? {
        resources.firstIndex { ExactName.equal($0, resource) }.map { fencingTokens[$0] }
    }

    /// Until when the lease is valid (monotonic clock).
    public var validUntil: ContinuousClock.Instant { state.withLock { $0.validUntil } }

    /// Time left before the lease stops being valid; zero once it is not.
    public var remaining: Duration {
        let now = clock.now
        return state.withLock { $0.released ? .zero : max(.zero, $0.validUntil - now) }
    }

    /// Whether the lease is still valid: not released, not lost, and before ``validUntil``.
    public var isValid: Bool { remaining > .zero && lossReason == nil }

    /// Why the lease was lost, or nil while it is not.
    public var lossReason: LeaseLoss? { state.withLock { $0.loss } }

    /// The lease's state changes while auto-renewal runs: renewed, renewal failed, lost (last).
    /// A lease already lost yields its loss at once. The stream ends after the loss, when the
    /// lease is released, or when the `withLock` holding it returns (also if its release failed).
    public func states() -> AsyncStream<LeaseState> {
        let (stream, continuation) = AsyncStream.makeStream(of: LeaseState.self, bufferingPolicy: .bufferingNewest(64))
        let lost = state.withLock { state -> LeaseLoss?? in
            if let loss = state.loss { return .some(loss) }
            if state.ended { return .some(nil) }
            state.nextObserver += 1
            let id = state.nextObserver
            state.observers[id] = continuation
            continuation.onTermination = { [weak self] _ in
                self?.state.withLock { _ = $0.observers.removeValue(forKey: id) }
            }
            return .none
        }
        if let lost {
            if let lost { continuation.yield(.lost(lost)) }
            continuation.finish()
        }
        return stream
    }

    /// Whether ``LockClient/release(_:)`` was called.
    public var isReleased: Bool { state.withLock { $0.released } }

    /// Whether a release was answered: released for good. ``isReleased`` is set while the
    /// release is in flight, and undone when it fails.
    var isReleaseAnswered: Bool { state.withLock { $0.releaseAnswered } }

    /// The label part of the owner (who holds it), without the secret token.
    public var label: String { LeaseOwner.displayName(of: owner) }

    /// `Lease(resources, label, tokens, remaining)`; the owner token is left out.
    public var description: String {
        "Lease(\(resources), label: \(label), fencingTokens: \(fencingTokens), remaining: \(remaining))"
    }

    /// Reports a state to every observer.
    func publish(_ update: LeaseState) {
        let observers = state.withLock { Array($0.observers.values) }
        for observer in observers { observer.yield(update) }
    }

    /// Marks the lease lost (once) and tells observers and waiters.
    func markLost(_ reason: LeaseLoss) {
        let (observers, waiters) = state.withLock {
            state -> ([AsyncStream<LeaseState>.Continuation], [CheckedContinuation<LeaseLoss?, Never>]) in
            guard state.loss == nil else { return ([], []) }
            state.loss = reason
            let observers = Array(state.observers.values)
            let waiters = Array(state.lossWaiters.values)
            state.observers.removeAll()
            state.lossWaiters.removeAll()
            return (observers, waiters)
        }
        for observer in observers {
            observer.yield(.lost(reason))
            observer.finish()
        }
        for waiter in waiters { waiter.resume(returning: reason) }
    }

    /// Waits until the lease is lost; nil when the waiting task is cancelled first.
    func waitUntilLost(id: UInt64) async -> LeaseLoss? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate = state.withLock { state -> LeaseLoss?? in
                    if let loss = state.loss { return .some(loss) }
                    if Task.isCancelled { return .some(nil) }
                    state.lossWaiters[id] = continuation
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.lossWaiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }

    /// Starts an update of the validity (an extend or a renewal about to be sent); end it with
    /// ``endValidityUpdate(_:)`` whatever happens.
    func beginValidityUpdate() {
        state.withLock { state in
            state.updatesInFlight += 1
            if state.updatesInFlight > 1 { state.updatesOverlapped = true }
        }
    }

    /// Ends an update begun with ``beginValidityUpdate()``; `newValidity` computes the validity
    /// it confirmed from the current one (nil: it confirmed nothing). While updates overlap,
    /// each may only shorten the validity: the backend ran them in an order the client cannot
    /// see (a renewal that ran after a longer extend set the shorter TTL), and the last to
    /// answer is not necessarily the last that ran. A lost lease's may only shorten too.
    func endValidityUpdate(_ newValidity: ((ContinuousClock.Instant) -> ContinuousClock.Instant)?) {
        let watchers = state.withLock { state -> [@Sendable () -> Void] in
            let before = state.validUntil
            if let newValidity {
                let confirmed = newValidity(state.validUntil)
                // A lost lease never gains validity back (an update answered after its end).
                let shortenOnly = state.updatesOverlapped || state.loss != nil
                state.validUntil = shortenOnly ? min(state.validUntil, confirmed) : confirmed
            }
            state.updatesInFlight -= 1
            if state.updatesInFlight == 0 { state.updatesOverlapped = false }
            return state.validUntil < before ? Array(state.validityWatchers.values) : []
        }
        for watcher in watchers { watcher() }
    }

    /// Ends the validity at `instant` at the latest (never later than it already was: a lease
    /// found lost after its deadline stays valid only until that deadline).
    func endValidity(at instant: ContinuousClock.Instant) {
        let watchers = state.withLock { state -> [@Sendable () -> Void] in
            guard instant < state.validUntil else { return [] }
            state.validUntil = instant
            return Array(state.validityWatchers.values)
        }
        for watcher in watchers { watcher() }
    }

    /// Calls `watcher` whenever the validity moves earlier (an extend to less than was left, an
    /// update that may have run unconfirmed), until ``unwatchValidity(_:)`` with the same `key`:
    /// a renewal loop must renew the lease before the new deadline, not at a time it computed
    /// from the old one. Called outside the lease's lock, so it may read the lease.
    func watchValidity(_ key: ObjectIdentifier, _ watcher: @escaping @Sendable () -> Void) {
        state.withLock { $0.validityWatchers[key] = watcher }
    }

    /// Stops calling the watcher registered with `key`.
    func unwatchValidity(_ key: ObjectIdentifier) {
        _ = state.withLock { $0.validityWatchers.removeValue(forKey: key) }
    }

    /// Marks the lease released; returns false when it already was.
    func markReleased() -> Bool {
        state.withLock { state in
            if state.released { return false }
            state.released = true
            return true
        }
    }

    /// Ends every ``states()`` stream, once the backend answered a release (`released`), or
    /// once `withLock` is done with the lease whatever its release did: nothing more will be
    /// reported for it, and a loop over its states must not wait forever.
    func endStates(released: Bool) {
        let observers = state.withLock { state -> [AsyncStream<LeaseState>.Continuation] in
            state.ended = true
            if released { state.releaseAnswered = true }
            let observers = Array(state.observers.values)
            state.observers.removeAll()
            return observers
        }
        for observer in observers { observer.finish() }
    }

    /// Undoes ``markReleased()`` after a release whose outcome is unknown, so it can be retried.
    func unmarkReleased() {
        state.withLock { $0.released = false }
    }
}
