/// The monotonic clock Locky measures TTLs and validity with. Injectable, so tests (yours and
/// ours) can move time by hand with ``ManualLockClock``.
public protocol LockClock: Sendable {
    /// The current instant.
    var now: ContinuousClock.Instant { get }
    /// Suspends until `deadline` (or throws `CancellationError` when the task is cancelled).
    func sleep(until deadline: ContinuousClock.Instant) async throws
}

/// The real monotonic clock (`ContinuousClock`).
public struct SystemLockClock: LockClock {
    /// Creates the clock.
    public init() {}

    /// `ContinuousClock.now`.
    public var now: ContinuousClock.Instant { ContinuousClock.now }

    /// Sleeps on `ContinuousClock`; a deadline more than ~68 years away is brought that close.
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        // ContinuousClock traps on an instant whose seconds overflow Int64 (a wait with a
        // timeout of `.seconds(Int64.max)`); nobody waits long enough to tell the difference.
        let latest = ContinuousClock.now + .seconds(Int64(Int32.max))
        try await ContinuousClock().sleep(until: min(deadline, latest), tolerance: nil)
    }
}
