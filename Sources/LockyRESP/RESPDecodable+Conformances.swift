import NIOCore

extension RESPToken: RESPDecodable {
    /// The token itself.
    public init(fromRESP token: RESPToken) {
        self = token
    }
}

extension ByteBuffer: RESPDecodable {
    /// A simple, bulk or verbatim string; a verbatim string loses its `fmt:` prefix.
    public init(fromRESP token: RESPToken) throws(RESPDecodeError) {
        switch token.value {
        case .simpleString(let bytes), .bulkString(let bytes):
            self = bytes
        case .verbatimString(let bytes):
            // The parser guarantees the three-letter format and colon; the text follows them.
            self = bytes.getSlice(at: bytes.readerIndex + 4, length: bytes.readableBytes - 4) ?? bytes
        default:
            throw RESPDecodeError(expected: "string", token: token)
        }
    }
}

extension String: RESPDecodable {
    /// A simple, bulk or verbatim string holding valid UTF-8.
    public init(fromRESP token: RESPToken) throws(RESPDecodeError) {
        let bytes: ByteBuffer
        do throws(RESPDecodeError) {
            bytes = try ByteBuffer(fromRESP: token)
        } catch {
            throw RESPDecodeError(expected: "string", token: token)
        }
        guard let string = String(validating: bytes.readableBytesView, as: UTF8.self) else {
            throw RESPDecodeError(expected: "UTF-8 string", token: token)
        }
        self = string
    }
}

extension Int64: RESPDecodable {
    /// A number, or a simple or bulk string holding a decimal integer (RESP2 returns some numbers as strings).
    public init(fromRESP token: RESPToken) throws(RESPDecodeError) {
        switch token.value {
        case .number(let value):
            self = value
        case .simpleString(let bytes), .bulkString(let bytes):
            let parsed = bytes.withUnsafeReadableBytes { RESPASCII.parseInt64($0, 0..<$0.count) }
            guard let parsed else { throw RESPDecodeError(expected: "integer", token: token) }
            self = parsed
        default:
            throw RESPDecodeError(expected: "integer", token: token)
        }
    }
}

extension Int: RESPDecodable {
    /// A number, or a string holding a decimal integer, that fits in `Int`.
    public init(fromRESP token: RESPToken) throws(RESPDecodeError) {
        guard let value = Int(exactly: try Int64(fromRESP: token)) else {
            throw RESPDecodeError(expected: "integer", token: token)
        }
        self = value
    }
}

extension Double: RESPDecodable {
    /// A double, a number, or a simple or bulk string holding a decimal number, `inf`, `-inf` or `nan`.
    public init(fromRESP token: RESPToken) throws(RESPDecodeError) {
        switch token.value {
        case .double(let value):
            self = value
        case .number(let value):
            self = Double(value)
        case .simpleString(let bytes), .bulkString(let bytes):
            // The RESP grammar first: Double(String) alone would also accept hex and "infinity".
            let valid = bytes.withUnsafeReadableBytes { RESPASCII.isDouble($0, 0..<$0.count) }
            guard valid, let value = Double(String(buffer: bytes)) else {
                throw RESPDecodeError(expected: "double", token: token)
            }
            self = value
        default:
            throw RESPDecodeError(expected: "double", token: token)
        }
    }
}

extension Bool: RESPDecodable {
    /// A boolean, or the number 0 or 1 (RESP2 has no booleans).
    public init(fromRESP token: RESPToken) throws(RESPDecodeError) {
        switch token.value {
        case .boolean(let value):
            self = value
        case .number(0):
            self = false
        case .number(1):
            self = true
        default:
            throw RESPDecodeError(expected: "boolean", token: token)
        }
    }
}

extension Optional: RESPDecodable where Wrapped: RESPDecodable {
    /// Null as nil; anything else decoded as `Wrapped`.
    public init(fromRESP token: RESPToken) throws(RESPDecodeError) {
        if case .null = token.value {
            self = nil
        } else {
            self = try Wrapped(fromRESP: token)
        }
    }
}

extension Array: RESPDecodable where Element: RESPDecodable {
    /// An array, set or push, each element decoded as `Element`; null is an error unless wrapped in `Optional`.
    public init(fromRESP token: RESPToken) throws(RESPDecodeError) {
        switch token.value {
        case .array(let elements), .set(let elements), .push(let elements):
            var result: [Element] = []
            result.reserveCapacity(elements.count)
            for element in elements {
                result.append(try Element(fromRESP: element))
            }
            self = result
        default:
            throw RESPDecodeError(expected: "array", token: token)
        }
    }
}
