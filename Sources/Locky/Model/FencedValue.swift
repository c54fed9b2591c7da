import NIOCore

/// A value stored through the fencing helper, with the highest fencing token seen for it.
public struct FencedValue: Sendable, Hashable {
    /// The stored bytes.
    public let value: ByteBuffer
    /// The highest fencing token that wrote (or tried to write) the value.
    public let highestToken: Int64

    /// Creates a fenced value.
    public init(value: ByteBuffer, highestToken: Int64) {
        self.value = value
        self.highestToken = highestToken
    }

    /// The value decoded as UTF-8.
    public var string: String { String(buffer: value) }
}
