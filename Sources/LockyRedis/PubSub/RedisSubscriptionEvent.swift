/// What a subscription delivers.
public enum RedisSubscriptionEvent: Sendable, Hashable {
    /// A published message.
    case message(RedisPubSubMessage)
    /// Messages may have been missed: the connection was lost and the subscriptions were
    /// restored (this event comes once they are confirmed again), or the consumer fell behind
    /// and the buffer overflowed. Whoever waits for a message should re-check the state it
    /// cares about.
    case gap
}
