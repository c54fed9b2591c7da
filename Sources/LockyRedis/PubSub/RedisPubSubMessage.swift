import NIOCore

/// One message received on a subscribed channel.
public struct RedisPubSubMessage: Sendable, Hashable {
    /// The channel it was published on (binary-safe).
    public let channel: ByteBuffer
    /// The pattern that matched, for pattern subscriptions.
    public let pattern: String?
    /// The published payload (binary-safe).
    public let payload: ByteBuffer

    /// Creates a message.
    public init(channel: ByteBuffer, pattern: String?, payload: ByteBuffer) {
        self.channel = channel
        self.pattern = pattern
        self.payload = payload
    }

    /// The channel name decoded as UTF-8 (invalid bytes replaced).
    public var channelName: String { String(buffer: channel) }
    /// The payload decoded as UTF-8 (invalid bytes replaced).
    public var payloadString: String { String(buffer: payload) }
}
