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

    init(resources: [String], owner: String, fencingTokens: [Int64], ttl: Duration, validUntil: ContinuousClock.Instant, clock: any LockClock) {
        self.resources = resources
        self.owner = owner
        self.fencingTokens = fencingTokens
        self.ttl = ttl
        self.clock = clock
        self.state = Mutex(State(validUntil: validUntil))
    }

    /// The fencing token of the first (or only) resource.
    public var fencingToken: Int64 { fencingTokens[0] }

    /// The fencing token of `resource`, or nil when the lease does not hold it.
    public func fencingToken(for resource: String) -> Int64? {
        resources.firstIndex(of: resource).map { fencingTokens[$0] }
    }

    /// Until when the lease is valid (monotonic clock).
    public var validUntil: ContinuousClock.Instant { state.withLock { $0.validUntil } }

    /// Time left before the lease stops being valid; zero once it is not.
    public var remaining: Duration {
        let now = clock.now
        return state.withLock { $0.released ? .zero : max(.zero, $0.validUntil - now) }
    }

    /// Whether the lease is still valid: not released and before ``validUntil``.
    public var isValid: Bool { remaining > .zero }

    /// Whether ``LockClient/release(_:)`` was called.
    public var isReleased: Bool { state.withLock { $0.released } }

    /// The label part of the owner (who holds it), without the secret token.
    public var label: String { LeaseOwner.displayName(of: owner) }

    /// `Lease(resources, label, tokens, remaining)`; the owner token is left out.
    public var description: String {
        "Lease(\(resources), label: \(label), fencingTokens: \(fencingTokens), remaining: \(remaining))"
    }

    func setValidUntil(_ instant: ContinuousClock.Instant) {
        state.withLock { $0.validUntil = instant }
    }

    func extendValidity(by amount: Duration) {
        state.withLock { $0.validUntil += amount }
    }

    /// Marks the lease released; returns false when it already was.
    func markReleased() -> Bool {
        state.withLock { state in
            if state.released { return false }
            state.released = true
            return true
        }
    }
}
