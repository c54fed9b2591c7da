import LockyRESP
import NIOCore
import Testing

@Suite("Encoding")
struct EncoderTests {
    private static func encoded(_ command: RESPCommand) -> String {
        var buffer = ByteBuffer()
        command.write(into: &buffer)
        return String(buffer: buffer)
    }

    @Test("a command without arguments")
    func nameOnly() {
        let command = RESPCommand("PING")
        #expect(Self.encoded(command) == "*1\r\n$4\r\nPING\r\n")
        #expect(command.count == 1)
        #expect(String(buffer: command.arguments) == "$4\r\nPING\r\n")
    }

    @Test("a command with mixed arguments")
    func mixedArguments() {
        let command = RESPCommand("SET", "lock:a", ByteBuffer(string: "tok"), "PX", 30_000, "NX")
        #expect(
            Self.encoded(command)
                == "*6\r\n$3\r\nSET\r\n$6\r\nlock:a\r\n$3\r\ntok\r\n$2\r\nPX\r\n$5\r\n30000\r\n$2\r\nNX\r\n"
        )
        #expect(command.count == 6)
    }

    @Test(
        "argument golden bytes",
        arguments: [
            (RESPCommand("X", ""), "$0\r\n\r\n"),
            (RESPCommand("X", "é€"), "$5\r\né€\r\n"),
            (RESPCommand("X", "a b"[...]), "$3\r\na b\r\n"),
            (RESPCommand("X", [UInt8]([0, 13, 10, 255])), "$4\r\n\u{0}\r\n\u{FF}\r\n"),
            (RESPCommand("X", 0), "$1\r\n0\r\n"),
            (RESPCommand("X", -1), "$2\r\n-1\r\n"),
            (RESPCommand("X", Int64.max), "$19\r\n9223372036854775807\r\n"),
            (RESPCommand("X", Int64.min), "$20\r\n-9223372036854775808\r\n"),
            (RESPCommand("X", UInt64.max), "$20\r\n18446744073709551615\r\n"),
            (RESPCommand("X", 1.5), "$3\r\n1.5\r\n"),
            (RESPCommand("X", 1.0), "$1\r\n1\r\n"),
            (RESPCommand("X", -2.0), "$2\r\n-2\r\n"),
            (RESPCommand("X", 0.1), "$3\r\n0.1\r\n"),
            (RESPCommand("X", 1e20), "$5\r\n1e+20\r\n"),
            (RESPCommand("X", Double.infinity), "$3\r\ninf\r\n"),
            (RESPCommand("X", -Double.infinity), "$4\r\n-inf\r\n"),
        ] as [(RESPCommand, String)])
    func argument(_ command: RESPCommand, _ expected: String) {
        // The [UInt8] case holds 0xFF, which is not UTF-8: compare bytes.
        var buffer = ByteBuffer()
        command.write(into: &buffer)
        let header = Array("*2\r\n$1\r\nX\r\n".utf8)
        let expectedBytes: [UInt8] =
            expected.hasSuffix("\u{FF}\r\n") ? Array("$4\r\n".utf8) + [0, 13, 10, 255, 13, 10] : Array(expected.utf8)
        #expect(bytes(of: buffer) == header + expectedBytes)
    }

    @Test("append and append(contentsOf:)")
    func appending() {
        var command = RESPCommand("DEL")
        command.append("a")
        command.append(contentsOf: ["b", "c"])
        command.append(contentsOf: [1, 2])
        #expect(command.count == 6)
        #expect(Self.encoded(command) == "*6\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\n1\r\n$1\r\n2\r\n")
        #expect(command == RESPCommand("DEL", "a", "b", "c", 1, 2))
    }

    @Test("a pipeline goes out as one buffer")
    func pipeline() {
        var buffer = ByteBuffer()
        RESPCommand.write([RESPCommand("MULTI"), RESPCommand("INCR", "n"), RESPCommand("EXEC")], into: &buffer)
        #expect(String(buffer: buffer) == "*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*1\r\n$4\r\nEXEC\r\n")
    }

    @Test("description is the name only, never the arguments")
    func description() {
        let command = RESPCommand("AUTH", "user", "s3cret")
        #expect(command.description == "AUTH")
        #expect(!"\(command)".contains("s3cret"))
    }

    @Test("an encoded command parses back as an array of bulk strings")
    func roundTrip() throws {
        let token = try #require(try parse(Self.encoded(RESPCommand("EVALSHA", "abc", 1, "key"))))
        #expect(literal(of: token) == .array(["EVALSHA", "abc", "1", "key"].map { .bulkString($0) }))
    }

    @Test("ByteBuffer bulk string helpers")
    func helpers() {
        var buffer = ByteBuffer()
        buffer.writeRESPBulkString([UInt8]("ab".utf8))
        buffer.writeRESPBulkString("cd")
        buffer.writeRESPBulkString("ef"[...])
        buffer.writeRESPBulkString(ByteBuffer(string: "gh"))
        #expect(String(buffer: buffer) == "$2\r\nab\r\n$2\r\ncd\r\n$2\r\nef\r\n$2\r\ngh\r\n")
    }

    @Test("an argument concatenated from parts is one bulk string, byte for byte")
    func concatenatedArgument() {
        var command = RESPCommand("GET")
        command.append(concatenating: "locky:", "{", "r", "}", ":fence")
        command.append(concatenating: "", "")
        command.append(concatenating: "é", String(repeating: "x", count: 20))
        let wide = String(repeating: "y", count: 1_000)
        command.append(concatenating: "p:", wide)
        #expect(command.count == 5)
        #expect(
            Self.encoded(command)
                == "*5\r\n$3\r\nGET\r\n$15\r\nlocky:{r}:fence\r\n$0\r\n\r\n$22\r\né"
                + String(repeating: "x", count: 20) + "\r\n$1002\r\np:" + wide + "\r\n")

        var buffer = ByteBuffer()
        let written = buffer.writeRESPBulkString(concatenating: ["ab", "", "c"])
        #expect(String(buffer: buffer) == "$3\r\nabc\r\n")
        #expect(written == buffer.readableBytes)
    }

    @Test("an argument written in place from parts, digits and bytes is one bulk string, byte for byte")
    func argumentWrittenInPlace() {
        var command = RESPCommand("GET")
        let wide = String(repeating: "é", count: 600)
        let parts: [(String, Int, UInt8)] = [("a", 0, 58), ("", -12, 123), (wide, Int.max, 125), ("x", Int.min, 0)]
        for (text, number, byte) in parts {
            let length = text.utf8.count + RESPBulkStringWriter.decimalLength(number) + 1
            command.appendBulkString(length: length) { writer in
                writer.write(text)
                writer.write(decimal: number)
                writer.write(byte: byte)
                #expect(writer.written == length)
            }
        }
        command.appendBulkString(length: 0) { _ in }
        #expect(command.count == 6)
        let expected =
            "*6\r\n$3\r\nGET\r\n$3\r\na0:\r\n$4\r\n-12{\r\n$1220\r\n\(wide)\(Int.max)}\r\n"
            + "$22\r\nx\(Int.min)\0\r\n$0\r\n\r\n"
        #expect(Self.encoded(command) == expected)
    }

    @Test("writing more or less than the announced length traps instead of sending a malformed command")
    func wrongLengthTraps() async {
        await #expect(processExitsWith: .failure) {
            var command = RESPCommand("GET")
            command.appendBulkString(length: 2) { writer in writer.write("abc") }
        }
        await #expect(processExitsWith: .failure) {
            var command = RESPCommand("GET")
            command.appendBulkString(length: 4) { writer in writer.write("abc") }
        }
    }

    @Test(
        "literal golden bytes",
        arguments: [
            (RESPToken.Literal.simpleString("OK"), "+OK\r\n"),
            (.simpleError("ERR no"), "-ERR no\r\n"),
            (.number(-12), ":-12\r\n"),
            (.bulkString("hi"), "$2\r\nhi\r\n"),
            (.bulkBytes([104, 105]), "$2\r\nhi\r\n"),
            (.null, "_\r\n"),
            (.nullBulkString, "$-1\r\n"),
            (.nullArray, "*-1\r\n"),
            (.boolean(true), "#t\r\n"),
            (.boolean(false), "#f\r\n"),
            (.double(1.5), ",1.5\r\n"),
            (.double(3), ",3\r\n"),
            (.double(.infinity), ",inf\r\n"),
            (.double(-.infinity), ",-inf\r\n"),
            (.double(.nan), ",nan\r\n"),
            (.bigNumber("123456789012345678901234567890"), "(123456789012345678901234567890\r\n"),
            (.bulkError("SYNTAX bad"), "!10\r\nSYNTAX bad\r\n"),
            (.verbatimString("txt:hi"), "=6\r\ntxt:hi\r\n"),
            (.array([.number(1), .null]), "*2\r\n:1\r\n_\r\n"),
            (.set([.boolean(true)]), "~1\r\n#t\r\n"),
            (.push([.simpleString("message")]), ">1\r\n+message\r\n"),
            (.map([.init(.simpleString("a"), .number(1))]), "%1\r\n+a\r\n:1\r\n"),
            (.attribute([.init(.simpleString("ttl"), .number(5))], .simpleString("OK")), "|1\r\n+ttl\r\n:5\r\n+OK\r\n"),
        ] as [(RESPToken.Literal, String)])
    func literalBytes(_ literal: RESPToken.Literal, _ expected: String) throws {
        let token = RESPToken(literal)
        #expect(String(buffer: token.base) == expected)
        // What the encoder writes, the parser accepts.
        #expect(try parse(expected) == token)
    }
}
