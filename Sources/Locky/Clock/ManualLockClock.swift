import Synchronization

/// A clock that moves only when told to: for deterministic tests of expiry and validity.
///
/// Sleepers wake when ``advance(by:)`` moves time past their deadline.
public final class ManualLockClock: LockClock {
    private struct State {
        var offset: Duration = .zero
        var nextID: UInt64 = 0
        var sleepers: [(id: UInt64, deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Void, any Error>)] = []
        /// Sleepers cancelled before they registered.
        var cancelled: Set<UInt64> = []
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

    /// Suspends until ``advance(by:)`` reaches `deadline`; throws `CancellationError` as soon
    /// as the task is cancelled (before, during or after the wait).
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        try Task.checkCancellation()
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let result = state.withLock { state -> Result<Void, any Error>? in
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if origin + state.offset >= deadline { return .success(()) }
                    state.sleepers.append((id, deadline, continuation))
                    return nil
                }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let sleeper = state.withLock { state in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else {
                    state.cancelled.insert(id)
                    return nil as CheckedContinuation<Void, any Error>?
                }
                return state.sleepers.remove(at: index).continuation
            }
            sleeper?.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }
}
