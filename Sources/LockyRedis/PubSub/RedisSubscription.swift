/// The messages of one subscription, as an `AsyncSequence`.
///
/// Obtained from ``RedisClient/subscribe(channels:patterns:_:)``, valid inside its closure.
public struct RedisSubscription: AsyncSequence, Sendable {
    /// The element type.
    public typealias Element = RedisSubscriptionEvent

    let id: UInt64
    let stream: AsyncStream<RedisSubscriptionEvent>

    /// The channels subscribed to.
    public let channels: [String]
    /// The patterns subscribed to.
    public let patterns: [String]

    /// Iterates the events; ends when the subscription ends or the client is closed.
    public func makeAsyncIterator() -> AsyncStream<RedisSubscriptionEvent>.AsyncIterator {
        stream.makeAsyncIterator()
    }
}
