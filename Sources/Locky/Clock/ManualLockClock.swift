import Synchronization

/// A clock that moves only when told to: for deterministic tests of expiry and validity.
///
/// Sleepers wake when ``advance(by:)`` moves time past their deadline.
public final class ManualLockClock: LockClock {
    /// What `advance(by:)` wakes: a sleeping task, or a timer's action.
    private enum Alarm {
        case sleeper(CheckedContinuation<Void, any Error>)
        case timer(@Sendable () -> Void)
    }

    private struct State {
        var offset: Duration = .zero
        var nextID: UInt64 = 0
        /// Sleepers and timers, woken by `advance(by:)`.
        var alarms: [(id: UInt64, deadline: ContinuousClock.Instant, alarm: Alarm)] = []
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
    ///
    /// A negative `duration` changes nothing: a monotonic clock never goes back (a lock that
    /// had expired would be live again, which no Redis key and no `ContinuousClock` does).
    public func advance(by duration: Duration) {
        let due = state.withLock { state in
            state.offset += max(duration, .zero)
            let now = origin + state.offset
            let due = state.alarms.filter { $0.deadline <= now }
            state.alarms.removeAll { $0.deadline <= now }
            return due
        }
        for entry in due {
            switch entry.alarm {
            case .sleeper(let continuation): continuation.resume()
            case .timer(let action): action()
            }
        }
    }

    /// Suspends until ``advance(by:)`` reaches `deadline`; throws `CancellationError` as soon
    /// as the task is cancelled (before, during or after the wait).
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        try Task.checkCancellation()
        let id = newID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let result = state.withLock { state -> Result<Void, any Error>? in
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if origin + state.offset >= deadline { return .success(()) }
                    state.alarms.append((id, deadline, .sleeper(continuation)))
                    return nil
                }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.alarms.firstIndex(where: { $0.id == id }) else {
                    state.cancelled.insert(id)
                    return nil
                }
                guard case .sleeper(let continuation) = state.alarms.remove(at: index).alarm else { return nil }
                return continuation
            }
            sleeper?.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    private func newID() -> UInt64 {
        state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
    }
}

extension ManualLockClock: LockTimerSource {
    /// Runs `action` when ``advance(by:)`` reaches `deadline` (at once when it has passed).
    func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> LockTimer {
        let id = newID()
        let armed = state.withLock { state -> Bool in
            guard origin + state.offset < deadline else { return false }
            state.alarms.append((id, deadline, .timer(action)))
            return true
        }
        if !armed { action() }
        return LockTimer { [weak self] in
            self?.state.withLock { $0.alarms.removeAll { $0.id == id } }
        }
    }
}
