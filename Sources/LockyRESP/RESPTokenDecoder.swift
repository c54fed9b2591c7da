import NIOCore

/// Decodes RESP frames for NIO's `NIOSingleStepByteToMessageProcessor`.
///
/// Like every NIO decoder it expects, after returning nil, to be called again with the same bytes plus whatever has
/// arrived since: it resumes its scan where it stopped, so a frame of any size is scanned once.
public struct RESPTokenDecoder: NIOSingleStepByteToMessageDecoder {
    /// Each decoded message is one complete frame.
    public typealias InboundOut = RESPToken

    /// Limits applied to every frame.
    public var limits: RESPLimits {
        didSet { progress = RESPScanProgress() }
    }

    /// How far the scan of the incomplete frame at the front of the buffer got.
    private var progress = RESPScanProgress()

    /// Creates a decoder with the given limits.
    public init(limits: RESPLimits = .default) {
        self.limits = limits
    }

    /// Decodes one frame, or returns nil when more bytes are needed; throws ``RESPParsingError``.
    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPToken? {
        // Bytes that cannot hold the scanned prefix are not the ones scanned before: start over.
        if progress.position > buffer.readableBytes { progress.reset() }
        do {
            let token = try RESPToken(consuming: &buffer, limits: limits, resuming: &progress)
            if token != nil { progress.reset() }
            return token
        } catch {
            progress.reset()
            throw error
        }
    }

    /// Decodes one frame at the end of the stream; an incomplete frame is left for NIO to report as leftover bytes.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPToken? {
        try decode(buffer: &buffer)
    }
}
