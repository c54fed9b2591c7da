import NIOCore

/// Decodes RESP frames for NIO's `NIOSingleStepByteToMessageProcessor`.
public struct RESPTokenDecoder: NIOSingleStepByteToMessageDecoder {
    /// Each decoded message is one complete frame.
    public typealias InboundOut = RESPToken

    /// Limits applied to every frame.
    public var limits: RESPLimits

    /// Creates a decoder with the given limits.
    public init(limits: RESPLimits = .default) {
        self.limits = limits
    }

    /// Decodes one frame, or returns nil when more bytes are needed; throws ``RESPParsingError``.
    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPToken? {
        try RESPToken(consuming: &buffer, limits: limits)
    }

    /// Decodes one frame at the end of the stream; an incomplete frame is left for NIO to report as leftover bytes.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPToken? {
        try decode(buffer: &buffer)
    }
}
