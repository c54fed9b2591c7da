/// What a child of `withLock` ended with.
enum ScopedChild<T: Sendable>: Sendable {
    /// The body's value, and when it returned.
    case finished(T, at: ContinuousClock.Instant)
    case lost(LeaseLoss?)
}
