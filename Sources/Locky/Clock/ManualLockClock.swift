import Synchronization

/// A clock that moves only when told to: for deterministic tests of expiry and validity.
///
/// Sleepers wake when ``advance(by:)`` moves time past their deadline.
public final class ManualLockClock: LockClock {
    private struct State {
        var offset: Duration = .zero
        var sleepers: [(deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let origin: ContinuousClock.Instant
    private let state = Mutex(State())

    /// Creates a clock that starts at the real current instant and then stands still.
    public init() {
        self.origin = ContinuousClock.now
    }

    /// The current (manual) instant.
    public var now: ContinuousClock.Instant {
        origin + state.withLock { $0.offset }
    }

    /// Moves time forward and wakes the sleepers whose deadline has passed.
    public func advance(by duration: Duration) {
        let woken = state.withLock { state in
            state.offset += duration
            let now = origin + state.offset
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    /// Suspends until ``advance(by:)`` reaches `deadline`. Cancellation is checked before and after.
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        try Task.checkCancellation()
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if origin + state.offset >= deadline { return true }
                state.sleepers.append((deadline, continuation))
                return false
            }
            if resumeNow { continuation.resume() }
        }
        try Task.checkCancellation()
    }
}
