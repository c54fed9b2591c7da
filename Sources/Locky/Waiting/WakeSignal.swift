import Synchronization

/// A one-waiter wake-up flag: `fire()` wakes the waiter, or is remembered until it waits, so a
/// wake-up that comes between two waits is never lost.
///
/// A wait with a deadline on a ``LockTimerSource`` clock arms a timer and suspends once: the
/// wake-up, the timer or a cancellation resumes it, whichever comes first. Each wait has an
/// id, so a timer or a cancellation that arrives after its wait ended never touches the next.
final class WakeSignal: Sendable {
    private struct State {
        /// A wake-up that came while nobody waited.
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<WakeOutcome, Never>)?
        var lastWait: UInt64 = 0
        /// A wait whose timer fired or whose task was cancelled before it suspended.
        var ended: (id: UInt64, outcome: WakeOutcome)?
        var handOver: (fencingToken: Int64, attempt: Int)?
        /// When the holder of the lock this (fair, first) waiter waits for expires, as last told.
        var holderExpiry: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    /// Wakes the waiter now, or the next time it waits.
    func fire() {
        let waiter = state.withLock { state -> CheckedContinuation<WakeOutcome, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: .signalled)
    }

    /// Records that a release handed the lock to this (fair) waiter, and wakes it.
    func handOver(fencingToken: Int64, attempt: Int) {
        state.withLock { $0.handOver = (fencingToken, attempt) }
        fire()
    }

    /// Records when the holder of the awaited lock expires (an `S` message: its TTL was
    /// shortened, or the lock was handed to the waiter ahead), and wakes the waiter, which
    /// re-arms its timer there (``takeHolderExpiry()``) without asking the server.
    func holderExpires(at instant: ContinuousClock.Instant) {
        state.withLock { $0.holderExpiry = instant }
        fire()
    }

    /// The holder's expiry told since the last call, if any.
    func takeHolderExpiry() -> ContinuousClock.Instant? {
        state.withLock { state in
            defer { state.holderExpiry = nil }
            return state.holderExpiry
        }
    }

    /// Whether a hand-off was received and not yet taken (``takeHandOver()``).
    var hasHandOver: Bool { state.withLock { $0.handOver != nil } }

    /// The hand-off received since the last call, if any.
    func takeHandOver() -> (fencingToken: Int64, attempt: Int)? {
        state.withLock { state in
            defer { state.handOver = nil }
            return state.handOver
        }
    }

    /// Waits for a wake-up or until `instant` (nil: no limit), measured on `clock`.
    func wait(until instant: ContinuousClock.Instant?, clock: any LockClock) async -> WakeOutcome {
        let outcome: WakeOutcome
        if let instant {
            if let timers = clock as? any LockTimerSource {
                outcome = await suspend(timer: (timers, instant))
            } else {
                outcome = await wait(until: instant, sleepingOn: clock)
            }
        } else {
            outcome = await suspend(timer: nil)
        }
        // A cancelled task hears so even when a wake-up came at the same time.
        return Task.isCancelled ? .cancelled : outcome
    }

    /// Suspends until a wake-up, the timer (if any) or cancellation; one continuation, no tasks.
    private func suspend(timer: (source: any LockTimerSource, instant: ContinuousClock.Instant)?) async -> WakeOutcome {
        let id = state.withLock { state in
            state.lastWait += 1
            return state.lastWait
        }
        let armed = timer.map { timer in timer.source.schedule(at: timer.instant) { self.end(id, .timedOut) } }
        defer { armed?.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate = state.withLock { state -> WakeOutcome? in
                    if state.pending {
                        state.pending = false
                        return .signalled
                    }
                    if let ended = state.ended, ended.id == id { return ended.outcome }
                    state.waiter = (id, continuation)
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            end(id, .cancelled)
        }
    }

    /// Ends wait `id` with `outcome`: resumes it if it is suspended, or marks it so it returns
    /// at once when it gets there. Nothing when that wait is over.
    private func end(_ id: UInt64, _ outcome: WakeOutcome) {
        let waiter = state.withLock { state -> CheckedContinuation<WakeOutcome, Never>? in
            if let waiter = state.waiter, waiter.id == id {
                state.waiter = nil
                return waiter.continuation
            }
            if state.lastWait == id, state.ended?.id != id { state.ended = (id, outcome) }
            return nil
        }
        waiter?.resume(returning: outcome)
    }

    /// A clock that cannot arm timers: the wait races a child task sleeping on it.
    private func wait(until instant: ContinuousClock.Instant, sleepingOn clock: any LockClock) async -> WakeOutcome {
        await withTaskGroup(of: WakeOutcome?.self) { group in
            group.addTask { await self.suspend(timer: nil) }
            group.addTask {
                do {
                    try await clock.sleep(until: instant)
                    return .timedOut
                } catch {
                    // Cancelled: by the caller, or because the wake-up came first. Not the answer.
                    return nil
                }
            }
            var first: WakeOutcome?
            while first == nil, let next = await group.next() {
                first = next
                group.cancelAll()
            }
            return first ?? .cancelled
        }
    }
}
