import NIOCore

/// A value stored through the fencing helper, with the fencing token that wrote it.
public struct FencedValue: Sendable, Hashable {
    /// The stored bytes.
    public let value: ByteBuffer
    /// The fencing token of the write that stored the value: the highest token that has
    /// written it, as a write needs a token at least as high as any seen before. (A
    /// token-checked read raises the key's fence without writing; this is not that fence.)
    public let highestToken: Int64

    /// Creates a fenced value.
    public init(value: ByteBuffer, highestToken: Int64) {
        self.value = value
        self.highestToken = highestToken
    }

    /// The value decoded as UTF-8.
    public var string: String { String(buffer: value) }
}
