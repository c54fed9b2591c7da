import LockyRESP
import NIOCore
import Testing

/// A valid frame and the value it must decode to.
struct FrameCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let expected: RESPToken.Literal

    init(_ name: String, _ text: String, _ expected: RESPToken.Literal) {
        self.name = name
        self.bytes = Array(text.utf8)
        self.expected = expected
    }

    var testDescription: String { name }
}

/// Frames covering every RESP2 and RESP3 type, shared by the parsing and partial-frame tests.
enum RESPFixtures {
    static let frames: [FrameCase] = [
        FrameCase("simple string", "+OK\r\n", .simpleString("OK")),
        FrameCase("empty simple string", "+\r\n", .simpleString("")),
        FrameCase("simple error", "-ERR unknown command\r\n", .simpleError("ERR unknown command")),
        FrameCase("zero", ":0\r\n", .number(0)),
        FrameCase("negative integer", ":-42\r\n", .number(-42)),
        FrameCase("plus-signed integer", ":+7\r\n", .number(7)),
        FrameCase("Int64.max", ":9223372036854775807\r\n", .number(.max)),
        FrameCase("Int64.min", ":-9223372036854775808\r\n", .number(.min)),
        FrameCase("bulk string", "$5\r\nhello\r\n", .bulkString("hello")),
        FrameCase("empty bulk string", "$0\r\n\r\n", .bulkString("")),
        FrameCase("binary-safe bulk string", "$4\r\na\r\nb\r\n", .bulkString("a\r\nb")),
        FrameCase("RESP2 null bulk string", "$-1\r\n", .null),
        FrameCase("RESP2 null array", "*-1\r\n", .null),
        FrameCase("empty array", "*0\r\n", .array([])),
        FrameCase("array", "*2\r\n$3\r\nfoo\r\n:1\r\n", .array([.bulkString("foo"), .number(1)])),
        FrameCase(
            "nested arrays", "*3\r\n*1\r\n:1\r\n*0\r\n$-1\r\n",
            .array([.array([.number(1)]), .array([]), .null])
        ),
        FrameCase("RESP3 null", "_\r\n", .null),
        FrameCase("true", "#t\r\n", .boolean(true)),
        FrameCase("false", "#f\r\n", .boolean(false)),
        FrameCase("double", ",1.5\r\n", .double(1.5)),
        FrameCase("negative double", ",-0.25\r\n", .double(-0.25)),
        FrameCase("integral double", ",10\r\n", .double(10)),
        FrameCase("exponent double", ",1e+20\r\n", .double(1e20)),
        FrameCase("infinity", ",inf\r\n", .double(.infinity)),
        FrameCase("negative infinity", ",-inf\r\n", .double(-.infinity)),
        FrameCase(
            "big number", "(3492890328409238509324850943850943825024385\r\n",
            .bigNumber("3492890328409238509324850943850943825024385")
        ),
        FrameCase("negative big number", "(-12345678901234567890\r\n", .bigNumber("-12345678901234567890")),
        FrameCase("bulk error", "!21\r\nSYNTAX invalid syntax\r\n", .bulkError("SYNTAX invalid syntax")),
        FrameCase("verbatim string", "=15\r\ntxt:Some string\r\n", .verbatimString("txt:Some string")),
        FrameCase(
            "map", "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
            .map([.init(.simpleString("first"), .number(1)), .init(.simpleString("second"), .number(2))])
        ),
        FrameCase("empty map", "%0\r\n", .map([])),
        FrameCase("set", "~3\r\n+a\r\n+b\r\n+c\r\n", .set([.simpleString("a"), .simpleString("b"), .simpleString("c")])),
        FrameCase(
            "push", ">3\r\n+pubsub\r\n+message\r\n$5\r\nhello\r\n",
            .push([.simpleString("pubsub"), .simpleString("message"), .bulkString("hello")])
        ),
        FrameCase(
            "attribute before an array",
            "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
            .array([.number(2_039_123), .number(9_543_892)])
        ),
        FrameCase(
            "attribute on an element", "*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n", .array([.number(1), .number(2)])
        ),
        FrameCase(
            "nested RESP3 aggregates", "%1\r\n$4\r\nkeys\r\n~2\r\n#t\r\n_\r\n",
            .map([.init(.bulkString("keys"), .set([.boolean(true), .null]))])
        ),
    ]
}

/// Parses `bytes` as one frame from a fresh buffer.
func parse(_ bytes: [UInt8], limits: RESPLimits = .default) throws(RESPParsingError) -> RESPToken? {
    var buffer = ByteBuffer(bytes: bytes)
    return try RESPToken(consuming: &buffer, limits: limits)
}

/// Parses `text` as one frame from a fresh buffer.
func parse(_ text: String, limits: RESPLimits = .default) throws(RESPParsingError) -> RESPToken? {
    try parse(Array(text.utf8), limits: limits)
}

/// The error thrown while parsing `text`, or nil when it parses or is incomplete.
func parsingError(_ text: String, limits: RESPLimits = .default) -> RESPParsingError? {
    do throws(RESPParsingError) {
        _ = try parse(text, limits: limits)
        return nil
    } catch {
        return error
    }
}

/// Converts a decoded token back to a literal, so that whole trees compare with `==`.
/// Strings come back as `bulkString`/`simpleString` of their UTF-8; nulls of every flavour as `.null`.
func literal(of token: RESPToken) -> RESPToken.Literal {
    switch token.value {
    case .simpleString(let bytes): .simpleString(String(buffer: bytes))
    case .simpleError(let bytes): .simpleError(String(buffer: bytes))
    case .number(let value): .number(value)
    case .bulkString(let bytes): .bulkString(String(buffer: bytes))
    case .null: .null
    case .boolean(let value): .boolean(value)
    case .double(let value): .double(value)
    case .bigNumber(let bytes): .bigNumber(String(buffer: bytes))
    case .bulkError(let bytes): .bulkError(String(buffer: bytes))
    case .verbatimString(let bytes): .verbatimString(String(buffer: bytes))
    case .array(let elements): .array(elements.map(literal(of:)))
    case .set(let elements): .set(elements.map(literal(of:)))
    case .push(let elements): .push(elements.map(literal(of:)))
    case .map(let entries): .map(entries.map { .init(literal(of: $0.key), literal(of: $0.value)) })
    case .attribute(let entries): .attribute(entries.map { .init(literal(of: $0.key), literal(of: $0.value)) }, .null)
    }
}

/// The readable bytes of `buffer`.
func bytes(of buffer: ByteBuffer) -> [UInt8] {
    Array(buffer.readableBytesView)
}
