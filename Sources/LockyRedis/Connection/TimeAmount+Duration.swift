import NIOCore

extension TimeAmount {
    /// Converts a `Duration`, saturating at the limits.
    init(_ duration: Duration) {
        self = .nanoseconds(duration.nanoseconds)
    }
}
