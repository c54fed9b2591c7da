/// The monotonic clock Locky measures TTLs and validity with. Injectable, so tests (yours and
/// ours) can move time by hand with ``ManualLockClock``.
public protocol LockClock: Sendable {
    /// The current instant.
    var now: ContinuousClock.Instant { get }
    /// Suspends until `deadline` (or throws `CancellationError` when the task is cancelled).
    func sleep(until deadline: ContinuousClock.Instant) async throws
}
