import LockyRESP
import NIOCore
import Testing

@Suite("Limits")
struct LimitTests {
    @Test("default limits")
    func defaults() {
        let limits = RESPLimits.default
        #expect(limits.maximumDepth == 32)
        #expect(limits.maximumBulkLength == 64 * 1024 * 1024)
        #expect(limits.maximumAggregateCount == 1_048_576)
        #expect(limits.maximumLineLength == 64 * 1024)
        #expect(limits.maximumFrameLength == 512 * 1024 * 1024)
    }

    /// `depth` aggregates of the given type nested in one another, the innermost holding one integer.
    private static func nested(_ open: String, depth: Int) -> String {
        // A map needs a key per level; the nested value is its value.
        let level = open == "%" || open == "|" ? "\(open)1\r\n+k\r\n" : "\(open)1\r\n"
        let tail = open == "|" ? ":1\r\n" : ""
        return String(repeating: level, count: depth) + ":1\r\n" + String(repeating: tail, count: depth)
    }

    @Test("nesting up to the depth limit parses; one level more throws", arguments: ["*", "~", ">", "%"])
    func depth(_ open: String) throws {
        let limits = RESPLimits(maximumDepth: 4)
        #expect(try parse(Self.nested(open, depth: 4), limits: limits) != nil)
        let error = parsingError(Self.nested(open, depth: 5), limits: limits)
        #expect(error?.code == .depthLimitExceeded)
    }

    @Test("attribute maps count toward the depth")
    func attributeDepth() throws {
        let limits = RESPLimits(maximumDepth: 1)
        #expect(try parse("|1\r\n+k\r\n:1\r\n:2\r\n", limits: limits) != nil)
        #expect(parsingError("|1\r\n+k\r\n*0\r\n:2\r\n", limits: limits)?.code == .depthLimitExceeded)
        #expect(parsingError("*1\r\n|0\r\n:2\r\n", limits: limits)?.code == .depthLimitExceeded)
    }

    @Test("a top-level array of scalars has depth 1")
    func depthOne() throws {
        let limits = RESPLimits(maximumDepth: 1)
        #expect(try parse("*2\r\n:1\r\n:2\r\n", limits: limits) != nil)
        #expect(parsingError("*1\r\n*0\r\n", limits: limits) == RESPParsingError(code: .depthLimitExceeded, offset: 4))
        #expect(try parse(":1\r\n", limits: RESPLimits(maximumDepth: 0)) != nil)
    }

    @Test("a hostile million-level nesting throws instead of overflowing the stack")
    func hostileDepth() {
        let bytes = Array(String(repeating: "*1\r\n", count: 1_000_000).utf8)
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: RESPParsingError(code: .depthLimitExceeded, offset: 32 * 4)) {
            _ = try RESPToken(consuming: &buffer)
        }
    }

    @Test("a bulk length over the limit throws on the header, before the payload", arguments: ["$", "!", "="])
    func bulkLength(_ type: String) throws {
        let limits = RESPLimits(maximumBulkLength: 10)
        #expect(parsingError("\(type)11\r\n", limits: limits) == RESPParsingError(code: .bulkLengthLimitExceeded, offset: 1))
        #expect(parsingError("\(type)1073741824\r\n", limits: limits)?.code == .bulkLengthLimitExceeded)
        // At the limit the header alone is just incomplete.
        #expect(try parse("\(type)10\r\n", limits: limits) == nil)
        #expect(try parse("\(type)10\r\ntxt:567890\r\n", limits: limits) != nil)
    }

    @Test("an aggregate count over the limit throws on the header", arguments: ["*", "~", ">", "%", "|"])
    func aggregateCount(_ type: String) throws {
        let limits = RESPLimits(maximumAggregateCount: 4)
        #expect(
            parsingError("\(type)5\r\n", limits: limits) == RESPParsingError(code: .aggregateCountLimitExceeded, offset: 1)
        )
        #expect(try parse("\(type)4\r\n", limits: limits) == nil)
    }

    @Test("map entries, not elements, count toward the aggregate limit")
    func mapEntries() throws {
        let limits = RESPLimits(maximumAggregateCount: 2)
        #expect(try parse("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", limits: limits) != nil)
        #expect(parsingError("%3\r\n", limits: limits)?.code == .aggregateCountLimitExceeded)
    }

    @Test("a line without CRLF beyond the limit throws", arguments: ["+", "-", ":", ",", "(", "$", "*", "#"])
    func lineLength(_ type: String) throws {
        let limits = RESPLimits(maximumLineLength: 16)
        let long = type + String(repeating: "1", count: 17)
        #expect(parsingError(long, limits: limits) == RESPParsingError(code: .lineLengthLimitExceeded, offset: 17))
        // Up to the limit the line may still end.
        #expect(try parse(type + String(repeating: "1", count: 16), limits: limits) == nil)
        #expect(try parse(type + String(repeating: "1", count: 16) + "\r", limits: limits) == nil)
    }

    @Test("a simple string exactly at the line limit parses")
    func lineAtLimit() throws {
        let limits = RESPLimits(maximumLineLength: 16)
        let text = String(repeating: "a", count: 16)
        #expect(try parse("+\(text)\r\n", limits: limits).map(literal(of:)) == .simpleString(text))
        #expect(parsingError("+\(text)a\r\n", limits: limits)?.code == .lineLengthLimitExceeded)
    }

    @Test("a line limit does not apply to bulk payloads")
    func bulkPayloadIsNotALine() throws {
        let limits = RESPLimits(maximumLineLength: 4)
        let payload = String(repeating: "x", count: 100)
        #expect(try parse("$100\r\n\(payload)\r\n", limits: limits).map(literal(of:)) == .bulkString(payload))
    }

    @Test("a frame longer than the frame limit throws once the limit is passed, however it arrives")
    func frameLength() throws {
        let limits = RESPLimits(maximumFrameLength: 32)
        // 40 bytes of elements that are each fine: only the whole is too long.
        let text = "*10\r\n" + String(repeating: ":1\r\n", count: 10)
        #expect(parsingError(text, limits: limits) == RESPParsingError(code: .frameLengthLimitExceeded, offset: 32))
        // Within the limit the frame is merely incomplete; one byte beyond, it fails (bytes: CRLF is one Character).
        #expect(try parse(Array(text.utf8.prefix(32)), limits: limits) == nil)
        #expect(throws: RESPParsingError(code: .frameLengthLimitExceeded, offset: 32)) {
            _ = try parse(Array(text.utf8.prefix(33)), limits: limits)
        }
        // A frame of exactly the limit parses, with more bytes after it.
        let exact = "*7\r\n" + String(repeating: ":1\r\n", count: 7)
        #expect(try parse(exact + ":2\r\n", limits: RESPLimits(maximumFrameLength: 32)) != nil)
        // An error inside the allowed bytes is reported as itself, not as the length.
        #expect(parsingError("*10\r\n:x\r\n" + String(repeating: "z", count: 40), limits: limits)?.code == .invalidInteger)
    }

    @Test("the frame limit is checked by the decoder across reads")
    func frameLengthAcrossReads() throws {
        var decoder = RESPTokenDecoder(limits: RESPLimits(maximumFrameLength: 1024))
        var buffer = ByteBuffer(string: "*100000\r\n")
        #expect(try decoder.decode(buffer: &buffer) == nil)
        var thrown: RESPParsingError?
        for _ in 0..<100 where thrown == nil {
            buffer.writeString("$10\r\n0123456789\r\n")
            do {
                #expect(try decoder.decode(buffer: &buffer) == nil)
            } catch let error as RESPParsingError {
                thrown = error
            }
        }
        #expect(thrown == RESPParsingError(code: .frameLengthLimitExceeded, offset: 1024))
    }
}
