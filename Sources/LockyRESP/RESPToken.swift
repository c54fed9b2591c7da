import NIOCore

/// One complete, validated RESP frame: a zero-copy slice of the bytes received.
///
/// Equality and hashing compare the bytes of the frame.
public struct RESPToken: Sendable, Hashable {
    /// The exact bytes of the frame, leading attributes included.
    public let base: ByteBuffer

    /// Wraps bytes that are known to hold exactly one valid frame.
    init(validated base: ByteBuffer) {
        self.base = base
    }

    /// Parses one frame from the front of `buffer`.
    ///
    /// Returns nil and leaves `buffer` untouched (reader index unchanged) when the frame is incomplete; on success
    /// moves the reader index past the frame. Throws when the bytes can never be a valid frame or exceed a limit:
    /// the connection must then be reset.
    public init?(consuming buffer: inout ByteBuffer, limits: RESPLimits = .default) throws(RESPParsingError) {
        var progress = RESPScanProgress()
        try self.init(consuming: &buffer, limits: limits, resuming: &progress)
    }

    /// Parses one frame like ``init(consuming:limits:)``, resuming the scan at `progress`, which must come from an
    /// earlier call on the same bytes (with more appended since) or be fresh. Returning nil updates `progress`.
    init?(
        consuming buffer: inout ByteBuffer,
        limits: RESPLimits,
        resuming progress: inout RESPScanProgress
    ) throws(RESPParsingError) {
        // The closure cannot throw typed errors through `rethrows`, so the outcome travels as a Result.
        let scanned: Result<Int?, RESPParsingError> = buffer.withUnsafeReadableBytes { bytes in
            do throws(RESPParsingError) {
                return .success(try RESPFrameScanner(bytes: bytes, limits: limits).scan(&progress))
            } catch {
                return .failure(error)
            }
        }
        guard let length = try scanned.get(), let frame = buffer.readSlice(length: length) else { return nil }
        self.base = frame
    }

    /// Builds a token from a value by encoding it (tests, fake servers).
    ///
    /// The literal is encoded as given: text that cannot appear in its RESP type (a CR in a simple string,
    /// a verbatim string without `fmt:`) yields bytes that the parser would reject.
    public init(_ value: Literal) {
        var buffer = ByteBuffer()
        value.write(into: &buffer)
        self.base = buffer
    }

    /// The type of the value, after any attributes; nil only for bytes that are not a valid frame.
    public var typeIdentifier: RESPTypeIdentifier? {
        let bytes = valueBytes
        return bytes.getInteger(at: bytes.readerIndex, as: UInt8.self).flatMap(RESPTypeIdentifier.init(rawValue:))
    }

    /// The attributes that precede the value, if any (several attribute maps are merged in order).
    public var attributes: Map? {
        var bytes = base
        var found = false
        var entries = 0
        var attributeBytes = ByteBuffer()
        while bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) == RESPTypeIdentifier.attribute.rawValue,
            let length = RESPFrameScanner.elementLength(in: bytes),
            let element = bytes.readSlice(length: length),
            let header = RESPHeader(element),
            let count = header.integer(in: element)
        {
            found = true
            entries += Int(count)
            var content = element
            content.moveReaderIndex(forwardBy: header.payloadOffset)
            attributeBytes.writeImmutableBuffer(content)
        }
        return found ? Map(count: entries, elements: attributeBytes) : nil
    }

    /// The bytes of the value, after any attributes.
    var valueBytes: ByteBuffer {
        var bytes = base
        while bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) == RESPTypeIdentifier.attribute.rawValue,
            let length = RESPFrameScanner.elementLength(in: bytes)
        {
            bytes.moveReaderIndex(forwardBy: length)
        }
        return bytes
    }

    /// The decoded value, read lazily from `base`; aggregates are lazy sequences over the same bytes.
    ///
    /// Attributes are skipped: this is the value that follows them.
    public var value: Value {
        let bytes = valueBytes
        // Unreachable for a parsed token; a malformed literal decodes as null rather than trapping.
        guard let header = RESPHeader(bytes) else { return .null }
        switch header.type {
        case .simpleString:
            return .simpleString(header.line(in: bytes))
        case .simpleError:
            return .simpleError(header.line(in: bytes))
        case .integer:
            return .number(header.integer(in: bytes) ?? 0)
        case .bigNumber:
            return .bigNumber(header.line(in: bytes))
        case .null:
            return .null
        case .boolean:
            return .boolean(header.line(in: bytes).readableBytesView.first == UInt8(ascii: "t"))
        case .double:
            let text = String(buffer: header.line(in: bytes))
            return .double(Double(text) ?? .nan)
        case .bulkString, .bulkError, .verbatimString:
            guard let length = header.integer(in: bytes), length >= 0 else { return .null }
            let payload =
                bytes.getSlice(at: bytes.readerIndex + header.payloadOffset, length: Int(length)) ?? ByteBuffer()
            switch header.type {
            case .bulkError: return .bulkError(payload)
            case .verbatimString: return .verbatimString(payload)
            default: return .bulkString(payload)
            }
        case .array, .set, .push, .map, .attribute:
            guard let count = header.integer(in: bytes), count >= 0 else { return .null }
            var elements = bytes
            elements.moveReaderIndex(forwardBy: header.payloadOffset)
            switch header.type {
            case .set: return .set(Array(count: Int(count), elements: elements))
            case .push: return .push(Array(count: Int(count), elements: elements))
            case .map: return .map(Map(count: Int(count), elements: elements))
            case .attribute: return .attribute(Map(count: Int(count), elements: elements))
            default: return .array(Array(count: Int(count), elements: elements))
            }
        }
    }

    /// Non-nil when the token is a simple or bulk error reply.
    public var serverError: RedisServerError? {
        switch value {
        case .simpleError(let text), .bulkError(let text):
            return RedisServerError(parsing: String(buffer: text))
        default:
            return nil
        }
    }

    /// Decodes the value as `type`; throws on a shape mismatch, including when the token is an error reply.
    public func decode<T: RESPDecodable>(as type: T.Type = T.self) throws(RESPDecodeError) -> T {
        try T(fromRESP: self)
    }
}
