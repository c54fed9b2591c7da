import LockyRESP
import NIOCore
import Testing

@Suite("Decoding")
struct DecodableTests {
    private static func token(_ literal: RESPToken.Literal) -> RESPToken {
        RESPToken(literal)
    }

    @Test("RESPToken decodes as itself")
    func identity() throws {
        let token = Self.token(.number(1))
        #expect(try token.decode(as: RESPToken.self) == token)
    }

    @Test(
        "strings",
        arguments: [
            (RESPToken.Literal.simpleString("OK"), "OK"),
            (.bulkString("héllo"), "héllo"),
            (.verbatimString("txt:Some string"), "Some string"),
            (.verbatimString("mkd:"), ""),
        ] as [(RESPToken.Literal, String)])
    func strings(_ literal: RESPToken.Literal, _ expected: String) throws {
        #expect(try Self.token(literal).decode(as: String.self) == expected)
        #expect(try Self.token(literal).decode(as: ByteBuffer.self) == ByteBuffer(string: expected))
    }

    @Test("invalid UTF-8 is a decode error, but fine as bytes")
    func invalidUTF8() throws {
        let token = Self.token(.bulkBytes([0xC3, 0x28]))
        #expect(throws: RESPDecodeError.self) { try token.decode(as: String.self) }
        #expect(try token.decode(as: ByteBuffer.self) == ByteBuffer(bytes: [0xC3, 0x28]))
    }

    @Test(
        "integers from numbers and decimal strings",
        arguments: [
            (RESPToken.Literal.number(42), Int64(42)),
            (.number(.min), .min),
            (.bulkString("-17"), -17),
            (.simpleString("9223372036854775807"), .max),
        ] as [(RESPToken.Literal, Int64)])
    func integers(_ literal: RESPToken.Literal, _ expected: Int64) throws {
        #expect(try Self.token(literal).decode(as: Int64.self) == expected)
        #expect(try Self.token(literal).decode(as: Int.self) == Int(expected))
    }

    @Test(
        "non-integers fail",
        arguments: [
            RESPToken.Literal.bulkString("12a"), .bulkString(""), .bulkString("99999999999999999999"), .double(1.5),
            .null, .boolean(true), .array([]),
        ])
    func notIntegers(_ literal: RESPToken.Literal) {
        #expect(throws: RESPDecodeError.self) { try Self.token(literal).decode(as: Int64.self) }
        #expect(throws: RESPDecodeError.self) { try Self.token(literal).decode(as: Int.self) }
    }

    @Test(
        "doubles from doubles, numbers and strings",
        arguments: [
            (RESPToken.Literal.double(1.5), 1.5),
            (.number(3), 3),
            (.bulkString("0.25"), 0.25),
            (.bulkString("-inf"), -.infinity),
            (.simpleString("1e3"), 1000),
        ] as [(RESPToken.Literal, Double)])
    func doubles(_ literal: RESPToken.Literal, _ expected: Double) throws {
        #expect(try Self.token(literal).decode(as: Double.self) == expected)
    }

    @Test("non-doubles fail", arguments: [RESPToken.Literal.bulkString("abc"), .bulkString("0x10"), .null])
    func notDoubles(_ literal: RESPToken.Literal) {
        #expect(throws: RESPDecodeError.self) { try Self.token(literal).decode(as: Double.self) }
    }

    @Test("booleans from booleans and 0/1")
    func booleans() throws {
        #expect(try Self.token(.boolean(true)).decode(as: Bool.self) == true)
        #expect(try Self.token(.boolean(false)).decode(as: Bool.self) == false)
        #expect(try Self.token(.number(1)).decode(as: Bool.self) == true)
        #expect(try Self.token(.number(0)).decode(as: Bool.self) == false)
        #expect(throws: RESPDecodeError.self) { try Self.token(.number(2)).decode(as: Bool.self) }
        #expect(throws: RESPDecodeError.self) { try Self.token(.simpleString("OK")).decode(as: Bool.self) }
    }

    @Test("optionals: every null is nil")
    func optionals() throws {
        for literal in [RESPToken.Literal.null, .nullBulkString, .nullArray] {
            #expect(try Self.token(literal).decode(as: String?.self) == nil)
            #expect(try Self.token(literal).decode(as: [Int]?.self) == nil)
        }
        #expect(try Self.token(.bulkString("x")).decode(as: String?.self) == "x")
        #expect(throws: RESPDecodeError.self) { try Self.token(.null).decode(as: String.self) }
    }

    @Test("arrays from arrays, sets and pushes")
    func arrays() throws {
        #expect(try Self.token(.array([.number(1), .bulkString("2")])).decode(as: [Int].self) == [1, 2])
        #expect(try Self.token(.set([.simpleString("a")])).decode(as: [String].self) == ["a"])
        #expect(try Self.token(.push([.number(7)])).decode(as: [Int64].self) == [7])
        #expect(try Self.token(.array([.bulkString("a"), .null])).decode(as: [String?].self) == ["a", nil])
        #expect(throws: RESPDecodeError.self) { try Self.token(.nullArray).decode(as: [Int].self) }
        #expect(throws: RESPDecodeError.self) { try Self.token(.array([.bulkString("x")])).decode(as: [Int].self) }
        #expect(throws: RESPDecodeError.self) { try Self.token(.map([])).decode(as: [Int].self) }
    }

    @Test("attributes are skipped when decoding")
    func attributesSkipped() throws {
        let token = Self.token(.attribute([.init(.simpleString("ttl"), .number(1))], .number(42)))
        #expect(try token.decode(as: Int.self) == 42)
    }

    @Test("a mismatch names what was expected and what came")
    func mismatch() throws {
        do {
            _ = try Self.token(.simpleString("OK")).decode(as: Int.self)
            Issue.record("expected a decode error")
        } catch {
            #expect(error == RESPDecodeError(expected: "integer", actual: .simpleString, serverError: nil))
            #expect(error.description == "expected integer, got simpleString")
        }
    }
}
