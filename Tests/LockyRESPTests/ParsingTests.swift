import LockyRESP
import NIOCore
import Testing

@Suite("Parsing")
struct ParsingTests {
    @Test("parses every type", arguments: RESPFixtures.frames)
    func parsesFrame(_ frame: FrameCase) throws {
        var buffer = ByteBuffer(bytes: frame.bytes + Array("+next\r\n".utf8))
        let token = try #require(try RESPToken(consuming: &buffer, limits: .default))
        #expect(literal(of: token) == frame.expected)
        #expect(bytes(of: token.base) == frame.bytes)
        // Exactly the frame was consumed: the next frame is intact.
        #expect(String(buffer: buffer) == "+next\r\n")
        #expect(!token.description.isEmpty)
    }

    @Test("an empty buffer is incomplete")
    func emptyBuffer() throws {
        #expect(try parse([]) == nil)
    }

    @Test("NaN double")
    func nanDouble() throws {
        let token = try #require(try parse(",nan\r\n"))
        guard case .double(let value) = token.value else {
            Issue.record("expected a double, got \(token)")
            return
        }
        #expect(value.isNaN)
    }

    @Test(
        "double spellings",
        arguments: [
            ("1.", 1), (".5", 0.5), ("+inf", .infinity), ("-0", 0), ("1E-2", 0.01), ("007.50", 7.5),
        ] as [(String, Double)])
    func doubleSpellings(_ text: String, _ expected: Double) throws {
        let token = try #require(try parse(",\(text)\r\n"))
        #expect(token.value == .double(expected))
    }

    @Test("RESP2 nulls and RESP3 null all decode as null")
    func nulls() throws {
        for text in ["$-1\r\n", "*-1\r\n", "_\r\n"] {
            let token = try #require(try parse(text))
            #expect(token.value == .null)
        }
    }

    @Test("token views are zero-copy slices with counts")
    func aggregateViews() throws {
        let token = try #require(try parse("*3\r\n:1\r\n:2\r\n:3\r\n"))
        guard case .array(let elements) = token.value else {
            Issue.record("expected an array, got \(token)")
            return
        }
        #expect(elements.count == 3)
        #expect(elements.map { $0.value } == [.number(1), .number(2), .number(3)])
        // Iterating twice gives the same elements: the view is not consumed.
        #expect(Array(elements) == Array(elements))
    }

    @Test("map entries pair keys and values")
    func mapEntries() throws {
        let token = try #require(try parse("%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n"))
        guard case .map(let entries) = token.value else {
            Issue.record("expected a map, got \(token)")
            return
        }
        #expect(entries.count == 2)
        let pairs = entries.map { (try? $0.key.decode(as: String.self), try? $0.value.decode(as: Int.self)) }
        #expect(pairs.map(\.0) == ["a", "b"])
        #expect(pairs.map(\.1) == [1, 2])
    }

    @Test("attributes are skipped by value and exposed by attributes")
    func attributes() throws {
        let token = try #require(try parse("|1\r\n+ttl\r\n:3600\r\n|1\r\n+hits\r\n:7\r\n+OK\r\n"))
        #expect(token.value == .simpleString(ByteBuffer(string: "OK")))
        #expect(token.typeIdentifier == .simpleString)
        let attributes = try #require(token.attributes)
        #expect(attributes.count == 2)
        #expect(attributes.map { literal(of: $0.key) } == [.simpleString("ttl"), .simpleString("hits")])
        #expect(attributes.map { literal(of: $0.value) } == [.number(3600), .number(7)])
        #expect(try parse("+OK\r\n")?.attributes == nil)
    }

    @Test("two frames back to back parse one at a time")
    func backToBack() throws {
        var buffer = ByteBuffer(string: "+OK\r\n:1\r\n")
        let first = try #require(try RESPToken(consuming: &buffer))
        let second = try #require(try RESPToken(consuming: &buffer))
        #expect(literal(of: first) == .simpleString("OK"))
        #expect(literal(of: second) == .number(1))
        #expect(try RESPToken(consuming: &buffer) == nil)
    }

    @Test("equality and hashing compare bytes")
    func equality() throws {
        let a = try #require(try parse("$2\r\nhi\r\n"))
        let b = RESPToken(.bulkString("hi"))
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != RESPToken(.simpleString("hi")))
    }

    @Test("description shows at most 64 bytes of a payload")
    func descriptionTruncates() throws {
        let payload = String(repeating: "a", count: 1000)
        let token = RESPToken(.array([.bulkString(payload), .simpleString(payload), .number(5)]))
        let description = token.description
        #expect(!description.contains(String(repeating: "a", count: 65)))
        #expect(description.contains(String(repeating: "a", count: 64)))
        #expect(description.contains("(integer) 5"))
        #expect(description.contains("1000 bytes"))
    }

    @Test("serverError is nil for other replies")
    func noServerError() throws {
        #expect(try parse("+OK\r\n")?.serverError == nil)
        #expect(try parse("$3\r\nERR\r\n")?.serverError == nil)
    }

    @Test(
        "malformed frames throw with code and offset",
        arguments: [
            ("?x\r\n", RESPParsingError.Code.invalidTypeIdentifier, 0),
            ("*1\r\n?\r\n", .invalidTypeIdentifier, 4),
            ("$x\r\n", .invalidLength, 1),
            ("$\r\n", .invalidLength, 1),
            ("$-2\r\n", .invalidLength, 1),
            ("$1x\r\n", .invalidLength, 2),
            ("*-5\r\n", .invalidLength, 1),
            ("~-1\r\n", .invalidLength, 1),
            ("!-1\r\n", .invalidLength, 1),
            ("$99999999999999999999\r\n", .invalidLength, 19),
            (":\r\n", .invalidInteger, 1),
            (":12a\r\n", .invalidInteger, 1),
            (":-\r\n", .invalidInteger, 1),
            (":9223372036854775808\r\n", .invalidInteger, 1),
            ("(12x\r\n", .invalidInteger, 1),
            ("(\r\n", .invalidInteger, 1),
            (",\r\n", .invalidDouble, 1),
            (",1.5x\r\n", .invalidDouble, 1),
            (",1e\r\n", .invalidDouble, 1),
            (",infinity\r\n", .invalidDouble, 1),
            (",0x10\r\n", .invalidDouble, 1),
            ("#x\r\n", .invalidBoolean, 1),
            ("#tt\r\n", .invalidBoolean, 1),
            ("#\r\n", .invalidBoolean, 1),
            ("_x\r\n", .missingCRLF, 1),
            ("+OK\rX", .missingCRLF, 4),
            ("$2\r\nhiX\r\n", .missingCRLF, 6),
            ("$2\r\nhi\rX", .missingCRLF, 7),
            ("=2\r\nab\r\n", .invalidVerbatimString, 1),
            ("=6\r\ntxt-hi\r\n", .invalidVerbatimString, 7),
        ] as [(String, RESPParsingError.Code, Int)])
    func malformed(_ text: String, _ code: RESPParsingError.Code, _ offset: Int) {
        let error = parsingError(text)
        #expect(error == RESPParsingError(code: code, offset: offset), "\(text.debugDescription)")
    }

    @Test("parsing errors describe code and offset")
    func parsingErrorDescription() {
        let error = RESPParsingError(code: .missingCRLF, offset: 7)
        #expect(error.description == "RESP parsing error: missingCRLF at offset 7")
    }

    @Test("a throwing parse leaves the reader index untouched")
    func throwingLeavesBuffer() {
        var buffer = ByteBuffer(string: "+OK\r\n#x\r\n")
        #expect(throws: Never.self) { _ = try RESPToken(consuming: &buffer) }
        let before = buffer.readerIndex
        #expect(throws: RESPParsingError.self) { _ = try RESPToken(consuming: &buffer) }
        #expect(buffer.readerIndex == before)
    }
}
