import Synchronization

/// A one-waiter wake-up flag: `fire()` wakes the waiter, or is remembered until it waits, so a
/// wake-up that comes between two waits is never lost.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var cancelled = false
        var waiter: CheckedContinuation<Bool, Never>?
        var target: String?
        var handOver: (fencingToken: Int64, attempt: Int)?
    }

    private let state = Mutex(State())

    /// Wakes the waiter now, or the next time it waits.
    func fire() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume(returning: true)
    }

    /// Records that a release handed the lock to this (fair) waiter, and wakes it.
    func handOver(fencingToken: Int64, attempt: Int) {
        state.withLock { $0.handOver = (fencingToken, attempt) }
        fire()
    }

    /// The hand-off received since the last call, if any.
    func takeHandOver() -> (fencingToken: Int64, attempt: Int)? {
        state.withLock { state in
            defer { state.handOver = nil }
            return state.handOver
        }
    }

    /// Waits for a wake-up; true when fired, false when the task was cancelled.
    func wait() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate = state.withLock { state -> Bool? in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    if state.cancelled { return false }
                    state.waiter = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                state.cancelled = true
                let waiter = state.waiter
                state.waiter = nil
                return waiter
            }
            waiter?.resume(returning: false)
        }
    }

    /// Waits for a wake-up or until `instant` (nil: no limit), measured on `clock`.
    func wait(until instant: ContinuousClock.Instant?, clock: any LockClock) async -> WakeOutcome {
        guard let instant else {
            return await wait() ? .signalled : .cancelled
        }
        let outcome: WakeOutcome = await withTaskGroup(of: WakeOutcome.self) { group in
            group.addTask { await self.wait() ? .signalled : .cancelled }
            group.addTask {
                do {
                    try await clock.sleep(until: instant)
                    return .timedOut
                } catch {
                    return .cancelled
                }
            }
            let first = await group.next() ?? .cancelled
            group.cancelAll()
            return first
        }
        reset()
        return Task.isCancelled ? .cancelled : outcome
    }

    /// The resource the waiter currently waits for.
    var target: String? {
        get { state.withLock { $0.target } }
        set { state.withLock { $0.target = newValue } }
    }

    /// Clears the cancelled mark (a new wait round in a task group).
    func reset() {
        state.withLock { $0.cancelled = false }
    }
}

/// How a wait on a ``WakeSignal`` ended.
enum WakeOutcome: Sendable {
    case signalled
    case timedOut
    case cancelled
}
