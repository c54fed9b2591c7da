/// A timer armed by a ``LockTimerSource``.
struct LockTimer: Sendable {
    /// Stops the timer; its action does not run unless it already started.
    let cancel: @Sendable () -> Void
}
