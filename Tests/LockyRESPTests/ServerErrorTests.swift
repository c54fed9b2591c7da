import LockyRESP
import NIOCore
import Testing

@Suite("Server errors")
struct ServerErrorTests {
    private static let codes: [RedisServerError.Code] = [
        .err, .noscript, .wrongtype, .noauth, .wrongpass, .noperm, .busy, .busykey, .loading, .readonly, .moved, .ask,
        .crossslot, .tryagain, .clusterdown, .masterdown, .noproto, .oom, .execabort, .unblocked, .nogoodslave,
        .noreplicas, .misconf,
    ]

    @Test("each code parses from a simple error", arguments: codes)
    func simpleError(_ code: RedisServerError.Code) throws {
        let token = try #require(try parse("-\(code.rawValue) something went wrong: details\r\n"))
        let error = try #require(token.serverError)
        #expect(error.code == code)
        #expect(error.message == "something went wrong: details")
        #expect(error.description == "\(code.rawValue) something went wrong: details")
    }

    @Test("each code parses from a bulk error", arguments: codes)
    func bulkError(_ code: RedisServerError.Code) throws {
        let token = RESPToken(.bulkError("\(code.rawValue) some message"))
        #expect(token.serverError == RedisServerError(code: code, message: "some message"))
    }

    @Test("raw values are the upper-case words")
    func rawValues() {
        #expect(Self.codes.map(\.rawValue) == Self.codes.map { $0.rawValue.uppercased() })
        #expect(RedisServerError.Code.noscript.rawValue == "NOSCRIPT")
        #expect(RedisServerError.Code.wrongpass.description == "WRONGPASS")
        #expect(Set(Self.codes).count == Self.codes.count)
    }

    @Test(
        "code extraction rules",
        arguments: [
            ("NOSCRIPT No matching script. Please use EVAL.", "NOSCRIPT", "No matching script. Please use EVAL."),
            (
                "WRONGPASS invalid username-password pair or user is disabled.", "WRONGPASS",
                "invalid username-password pair or user is disabled."
            ),
            ("NOAUTH", "NOAUTH", ""),
            ("MY_MODULE2 custom failure", "MY_MODULE2", "custom failure"),
            ("Wrongtype lower-case word", "ERR", "Wrongtype lower-case word"),
            ("unknown command 'FOO'", "ERR", "unknown command 'FOO'"),
            ("", "ERR", ""),
            (" leading space", "ERR", " leading space"),
            ("ERR  two spaces", "ERR", " two spaces"),
        ] as [(String, String, String)])
    func parsingRules(_ text: String, _ code: String, _ message: String) {
        let error = RedisServerError(parsing: text)
        #expect(error.code == RedisServerError.Code(rawValue: code))
        #expect(error.message == message)
    }

    @Test("MOVED and ASK carry their redirection")
    func redirection() throws {
        let moved = RedisServerError(parsing: "MOVED 3999 127.0.0.1:6381")
        #expect(moved.code == .moved)
        #expect(moved.redirection?.slot == 3999)
        #expect(moved.redirection?.address == "127.0.0.1:6381")
        let ask = RedisServerError(parsing: "ASK 12 [::1]:7000")
        #expect(ask.redirection?.slot == 12)
        #expect(ask.redirection?.address == "[::1]:7000")
        #expect(RedisServerError(parsing: "MOVED nonsense").redirection == nil)
        #expect(RedisServerError(parsing: "ERR 3999 127.0.0.1:6381").redirection == nil)
    }

    @Test("decoding an error reply throws a decode error carrying the server error")
    func decodeCarriesServerError() throws {
        let token = try #require(try parse("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"))
        #expect(throws: RESPDecodeError.self) { _ = try token.decode(as: Int.self) }
        do {
            _ = try token.decode(as: Int.self)
        } catch {
            #expect(error.serverError?.code == .wrongtype)
            #expect(error.actual == .simpleError)
            #expect(error.expected == "integer")
            #expect(error.description.contains("WRONGTYPE"))
        }
    }
}
