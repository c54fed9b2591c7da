/// A clock that can call back at an instant without a task. A wait with a deadline arms one
/// such timer instead of running a sleeping child task beside it: a wake-up then resumes the
/// waiter directly, with no task group to set up, cancel and drain.
///
/// ``SystemLockClock`` and ``ManualLockClock`` are timer sources; a wait on any other
/// ``LockClock`` sleeps in a child task (``LockClock/sleep(until:)``) instead.
protocol LockTimerSource: LockClock {
    /// Calls `action` once at `deadline` (at once when it has passed), unless the returned
    /// timer is cancelled first.
    func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> LockTimer
}
