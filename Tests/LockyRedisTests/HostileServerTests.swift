import LockyRESP
import LockyTestSupport
import Synchronization
import Testing

@testable import LockyRedis

/// A server that answers with malformed, truncated, absurd or endless replies, and one that answers with the wrong
/// types. Every case ends in a typed error within a bounded time, and the client works again over a new connection
/// once the server behaves.
@Suite(.serialized, .timeLimit(.minutes(1))) struct HostileServerTests {
    /// A scripted case: the bytes the first connection answers the first command with.
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let reply: ScriptedServer.Reply

        init(_ name: String, _ reply: ScriptedServer.Reply) {
            self.name = name
            self.reply = reply
        }

        init(_ name: String, _ text: String) {
            self.init(name, .raw(text))
        }

        var testDescription: String { name }
    }

    /// Runs `body` with a scripted server and a client of it. The server completes every handshake; the first
    /// connection answers its first other command with `hostile`, everything else is answered like Redis would.
    private func withHostileServer(
        _ hostile: ScriptedServer.Reply,
        commandTimeout: Duration = .seconds(2),
        _ body: (ScriptedServer, RedisClient) async throws -> Void
    ) async throws {
        let script: ScriptedServer.Script = { request in
            if request.isHandshake { return .standard }
            return request.connection == 1 && request.index == 1 ? hostile : .standard
        }
        try await withScriptedServer(script, commandTimeout: commandTimeout, body)
    }

    private func withScriptedServer(
        _ script: @escaping ScriptedServer.Script,
        commandTimeout: Duration = .seconds(2),
        connectTimeout: Duration = .seconds(1),
        _ body: (ScriptedServer, RedisClient) async throws -> Void
    ) async throws {
        try await ScriptedServer.withServer(script) { server throws in
            var configuration = try RedisConfiguration(url: server.url)
            configuration.commandTimeout = commandTimeout
            configuration.connectTimeout = connectTimeout
            configuration.keepAliveInterval = nil
            try await RedisClient.withClient(configuration: configuration) { client throws in
                try await body(server, client)
            }
        }
    }

    /// The error of `command` (or nil when it succeeded) and how long it took, timed on the client's event loop.
    private func failure(_ client: RedisClient, _ command: RESPCommand = RESPCommand("GET", "k")) async -> (
        error: RedisClientError?, elapsed: Duration
    ) {
        await withTaskExecutorPreference(client.taskExecutor) {
            await clientError { _ = try await client.execute(command) }
        }
    }

    /// The server behaves from the second connection on: the client must get there by itself.
    private func expectRecovery(_ server: ScriptedServer, _ client: RedisClient, connections: Int = 2) async throws {
        #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
        #expect(try await run(client, RESPCommand("ECHO", "back"), as: String.self) == "back")
        #expect(server.connectionCount == connections, "\(server.requests)")
    }

    // MARK: Malformed replies: a protocol error, the connection is reset

    static let malformed: [Case] = [
        Case("absurd bulk length", "$99999999999\r\n"),
        Case("bulk length overflowing Int64", "$99999999999999999999999\r\n"),
        Case("absurd array count", "*2147483648\r\n"),
        Case("absurd map count", "%9223372036854775807\r\n"),
        Case("absurd nested count", "*2\r\n:1\r\n~99999999999\r\n"),
        Case("endless nesting", .repeated("*1\r\n", times: 100_000)),
        Case("negative bulk length", "$-2\r\n"),
        Case("negative array count", "*-5\r\n"),
        Case("null map", "%-1\r\n"),
        Case("empty length", "$\r\n"),
        Case("length with a sign", "*+1\r\n:1\r\n"),
        Case("non-RESP text", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
        Case("binary noise", .raw([0x00, 0xFF, 0x13, 0x37, 0x0D, 0x0A])),
        Case("CR without LF", "+OK\rX\r\n"),
        Case("bad integer", ":12a\r\n"),
        Case("integer overflowing Int64", ":9223372036854775808\r\n"),
        Case("bad double", ",1.2.3\r\n"),
        Case("bad boolean", "#x\r\n"),
        Case("bulk payload longer than announced", "$3\r\nabcXY\r\n"),
        Case("verbatim string without format", "=3\r\nabc\r\n"),
        Case("huge simple string without CRLF", .repeated(String(repeating: "a", count: 1024), times: 16 * 1024, after: "+")),
        Case("endless digits of a length", .repeated(String(repeating: "9", count: 1024), times: 16 * 1024, after: "$")),
        Case("huge error line without CRLF", .repeated(String(repeating: "e", count: 1024), times: 16 * 1024, after: "-ERR ")),
        Case("bulk longer than the limit", .repeated(String(repeating: "x", count: 1024), times: 1024, after: "$67108865\r\n")),
    ]

    @Test(arguments: malformed)
    func malformedReplyIsAProtocolErrorAndTheClientRecovers(_ hostile: Case) async throws {
        try await withHostileServer(hostile.reply) { server, client throws in
            let (error, elapsed) = await failure(client)
            #expect(error?.code == .protocolError, "\(String(describing: error))")
            #expect(error?.underlying is RESPParsingError, "\(String(describing: error))")
            #expect(error?.mayHaveRun == true)
            // Found on the bytes, not by waiting for the 2 s deadline.
            #expect(elapsed < .seconds(1), "\(elapsed)")
            try await expectRecovery(server, client)
        }
    }

    @Test func malformedReplyFailsEveryPipelinedCommandBehindIt() async throws {
        try await withHostileServer(.raw("*1\r\n%-3\r\n")) { server, client throws in
            let results = await client.execute(batch: (0..<5).map { RESPCommand("GET", "k\($0)") })
            let codes = results.map { result -> RedisClientError.Code? in
                if case .failure(let error) = result { return error.code }
                return nil
            }
            #expect(codes.allSatisfy { $0 == .protocolError }, "\(codes)")
            try await expectRecovery(server, client)
        }
    }

    // MARK: Truncated replies

    /// Incomplete frames; a bare LF does not end a line (only CRLF does), so `+OK\n` is still waiting for its CR.
    static let truncated: [String] = [
        "$10\r\nabc", "*3\r\n:1\r\n", "+OK", "+OK\n", "%1\r\n+key\r\n", "|1\r\n+a\r\n:1\r\n", "$5\r\nhello\r",
    ]

    @Test(arguments: truncated)
    func truncatedReplyThenCloseIsALostConnection(_ bytes: String) async throws {
        try await withHostileServer(.raw(bytes, then: .close)) { server, client throws in
            let (error, elapsed) = await failure(client)
            #expect(error?.code == .connectionLost, "\(String(describing: error))")
            #expect(error?.mayHaveRun == true)
            #expect(elapsed < .seconds(1), "\(elapsed)")
            try await expectRecovery(server, client)
        }
    }

    @Test(arguments: truncated)
    func truncatedReplyThenResetIsALostConnection(_ bytes: String) async throws {
        try await withHostileServer(.raw(bytes, then: .reset)) { server, client throws in
            let (error, elapsed) = await failure(client)
            #expect(error?.code == .connectionLost, "\(String(describing: error))")
            #expect(elapsed < .seconds(1), "\(elapsed)")
            try await expectRecovery(server, client)
        }
    }

    @Test(arguments: truncated + [""])
    func truncatedReplyThenSilenceHitsTheDeadline(_ bytes: String) async throws {
        try await withHostileServer(.raw(bytes, then: .silence), commandTimeout: .milliseconds(300)) { server, client throws in
            let (error, elapsed) = await failure(client)
            #expect(error?.code == .timeout, "\(String(describing: error))")
            #expect(error?.mayHaveRun == true)
            #expect(elapsed >= .milliseconds(250), "\(elapsed)")
            #expect(elapsed < .seconds(1), "\(elapsed)")
            try await expectRecovery(server, client)
        }
    }

    // MARK: Right after a failure

    @Test func theCommandRightAfterAProtocolErrorDialsAgain() async throws {
        let script: ScriptedServer.Script = { request in
            request.isHandshake || request.name != "GET" ? .standard : .raw("@garbage\r\n")
        }
        try await withScriptedServer(script) { server, client throws in
            for round in 1...50 {
                let (error, _) = await clientError { _ = try await client.execute(RESPCommand("GET", "k")) }
                #expect(error?.code == .protocolError, "round \(round): \(String(describing: error))")
                // Sent the moment the failure is known, from another thread than the connection's: it must dial
                // again, not fail with "not sent" on the connection that is still closing.
                let (pingError, _) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                #expect(pingError == nil, "round \(round): \(String(describing: pingError))")
            }
            #expect(server.connectionCount == 51)
        }
    }

    @Test func theCommandRightAfterATimeoutDialsAgain() async throws {
        let script: ScriptedServer.Script = { request in
            request.isHandshake || request.name != "GET" ? .standard : .nothing(then: .silence)
        }
        try await withScriptedServer(script, commandTimeout: .milliseconds(150)) { server, client throws in
            for round in 1...4 {
                let (error, _) = await clientError { _ = try await client.execute(RESPCommand("GET", "k")) }
                #expect(error?.code == .timeout, "round \(round): \(String(describing: error))")
                let (pingError, _) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                #expect(pingError == nil, "round \(round): \(String(describing: pingError))")
            }
            #expect(server.connectionCount == 5)
        }
    }

    // MARK: Garbage after a valid frame

    @Test func garbageAfterAValidReplyResetsTheConnection() async throws {
        // Both commands leave in one write; the first reply is followed by garbage instead of the second's.
        try await withHostileServer(.raw("+first\r\n\u{1}\u{2}garbage")) { server, client throws in
            let results = await client.execute(batch: [RESPCommand("GET", "a"), RESPCommand("GET", "b")])
            #expect((try? results[0].get().decode(as: String.self)) == "first")
            guard case .failure(let error) = results[1] else {
                Issue.record("the command behind the garbage succeeded: \(results[1])")
                return
            }
            #expect(error.code == .protocolError, "\(error)")
            #expect(error.mayHaveRun == true)
            try await expectRecovery(server, client)
        }
    }

    @Test func anUnsolicitedReplyResetsTheConnection() async throws {
        try await withHostileServer(.raw("+mine\r\n+nobody-asked\r\n")) { server, client throws in
            #expect(try await run(client, RESPCommand("GET", "k"), as: String.self) == "mine")
            // The connection is gone: the next command dials again.
            #expect(
                await eventually(within: .seconds(2)) {
                    (try? await run(client, RESPCommand("PING"), as: String.self)) == "PONG" && server.connectionCount == 2
                })
        }
    }

    // MARK: Huge replies

    @Test func aHugeWellFormedReplyIsDecodedInLinearTime() async throws {
        // 65,536 bulk strings, 7 MB, arriving in many reads: this took 11 s when every read rescanned the frame.
        let count = 65_536
        let element = "$100\r\n" + String(repeating: "x", count: 100) + "\r\n"
        let script: ScriptedServer.Script = { request in
            request.isHandshake || request.name != "GET" ? .standard : .repeated(element, times: count, after: "*\(count)\r\n")
        }
        try await withScriptedServer(script, commandTimeout: .seconds(10)) { _, client throws in
            let start = ContinuousClock.now
            let reply = try await client.execute(RESPCommand("GET", "k"))
            let elapsed = ContinuousClock.now - start
            guard case .array(let values) = reply.value else {
                Issue.record("not an array: \(reply)")
                return
            }
            #expect(values.count == count)
            #expect(elapsed < .seconds(2), "\(elapsed)")
        }
    }

    @Test func anEndlessReplyIsCutAtTheDeadline() async throws {
        // Well-formed elements without end (announced: a million): memory grows only until the deadline.
        let element = "$1000\r\n" + String(repeating: "x", count: 1000) + "\r\n"
        let script: ScriptedServer.Script = { request in
            request.isHandshake || request.name != "GET" ? .standard : .repeated(element, times: 1_000_000, after: "*1000000\r\n")
        }
        try await withScriptedServer(script, commandTimeout: .milliseconds(500)) { server, client throws in
            let (error, elapsed) = await failure(client)
            #expect(error?.code == .timeout, "\(String(describing: error))")
            #expect(elapsed < .seconds(2), "\(elapsed)")
            try await expectRecovery(server, client)
        }
    }

    @Test func anEndlessReplyStopsAtTheFrameLimit() async throws {
        let element = "$1000\r\n" + String(repeating: "x", count: 1000) + "\r\n"
        let script: ScriptedServer.Script = { request in
            request.isHandshake || request.name != "GET" ? .standard : .repeated(element, times: 1_000_000, after: "*1000000\r\n")
        }
        try await ScriptedServer.withServer(script) { server throws in
            var configuration = try RedisConfiguration(url: server.url)
            configuration.commandTimeout = .seconds(5)
            configuration.limits.maximumFrameLength = 1 << 20
            try await RedisClient.withClient(configuration: configuration) { client throws in
                let (error, elapsed) = await failure(client)
                #expect(error?.code == .protocolError, "\(String(describing: error))")
                #expect((error?.underlying as? RESPParsingError)?.code == .frameLengthLimitExceeded)
                // Stopped after about 1 MiB, long before the deadline.
                #expect(elapsed < .seconds(1), "\(elapsed)")
                try await expectRecovery(server, client)
            }
        }
    }

    // MARK: Wrong reply types: well-formed frames, so the stream stays in sync and the connection is kept

    @Test func wrongTypesAreTypedDecodeErrorsOnAHealthyConnection() async throws {
        let replies = [":42\r\n", "%1\r\n+a\r\n:1\r\n", "*2\r\n:1\r\n:2\r\n", "_\r\n", "#t\r\n", ",1.5\r\n", "(123\r\n"]
        let script: ScriptedServer.Script = { request in
            if request.isHandshake || request.name != "GET" { return .standard }
            return .raw(replies[(request.index - 1) % replies.count])
        }
        try await withScriptedServer(script) { server, client throws in
            for reply in replies {
                let token = try await client.execute(RESPCommand("GET", "k"))
                #expect(throws: RESPDecodeError.self, "\(reply.debugDescription) decoded as a string") {
                    _ = try token.decode(as: String.self)
                }
            }
            try await expectRecovery(server, client, connections: 1)
        }
    }

    @Test(arguments: ["-\r\n", "-ERR\r\n", "-WRONGTYPE\r\n", "!0\r\n\r\n", "!3\r\n\u{0}\u{1}\u{2}\r\n", "-NOSCRIPT \r\n"])
    func oddErrorRepliesAreServerErrors(_ reply: String) async throws {
        try await withHostileServer(.raw(reply)) { server, client throws in
            let (error, _) = await failure(client)
            #expect(error?.code == .serverError, "\(String(describing: error))")
            #expect(error?.serverError != nil)
            try await expectRecovery(server, client, connections: 1)
        }
    }

    @Test func aPushInsteadOfAReplyHitsTheDeadline() async throws {
        try await withHostileServer(.raw(">2\r\n+not\r\n+yours\r\n"), commandTimeout: .milliseconds(300)) {
            server, client throws in
            let (error, elapsed) = await failure(client)
            #expect(error?.code == .timeout, "\(String(describing: error))")
            #expect(elapsed < .seconds(1), "\(elapsed)")
            try await expectRecovery(server, client)
        }
    }

    // MARK: A hostile handshake

    static let handshakes: [Case] = [
        Case("garbage", .raw("@@@\r\n")),
        Case("absurd length", .raw("%99999999999\r\n")),
        Case("truncated then close", .raw("%7\r\n$6\r\nserver", then: .close)),
        Case("reset", .nothing(then: .reset)),
        Case("silence", .nothing(then: .silence)),
    ]

    @Test(arguments: handshakes)
    func hostileHandshakeFailsTheConnectionAttempt(_ hostile: Case) async throws {
        let script: ScriptedServer.Script = { request in
            request.connection == 1 ? hostile.reply : .standard
        }
        try await withScriptedServer(script, connectTimeout: .milliseconds(400)) { server, client throws in
            let (error, elapsed) = await failure(client, RESPCommand("PING"))
            #expect(error?.code == .connectionFailed, "\(String(describing: error))")
            // The PING waited for a connection that never came: it was not sent.
            #expect(error?.mayHaveRun == false, "\(String(describing: error))")
            #expect(elapsed < .seconds(1), "\(elapsed)")
            #expect(
                await eventually(within: .seconds(2)) {
                    (try? await run(client, RESPCommand("PING"), as: String.self)) == "PONG"
                })
            #expect(server.connectionCount == 2)
        }
    }
    /// A subscribe cancelled before its confirmation sends `UNSUBSCRIBE`; a new subscriber of the
    /// same channel then sends `SUBSCRIBE` again. The answer to the first `SUBSCRIBE` arrives
    /// before the server has run the other two, so it must not confirm the new subscriber: only
    /// the answer to the last `SUBSCRIBE` does. (Here the server never sends that one, so the
    /// new subscriber times out instead of believing it is subscribed.)
    @Test func onlyTheAnswerToTheLastSubscribeConfirms() async throws {
        let subscribes = Atomic<Int>(0)
        let script: ScriptedServer.Script = { request in
            if request.isHandshake { return .standard }
            guard request.name == "SUBSCRIBE" else { return .raw("") }
            // The first SUBSCRIBE gets no answer yet; the second gets the answer to the first.
            if subscribes.add(1, ordering: .relaxed).newValue == 1 { return .raw("") }
            return .raw(">3\r\n$9\r\nsubscribe\r\n$1\r\nC\r\n:1\r\n")
        }
        try await withScriptedServer(script, commandTimeout: .milliseconds(800)) { server, client in
            // The first subscriber is cancelled while it waits for the confirmation.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.subscribe(channels: ["C"]) { _ in } }
                let sent = await eventually(within: .seconds(5)) {
                    server.requests.contains { $0.name == "SUBSCRIBE" }
                }
                try #require(sent)
                group.cancelAll()
                let cancelled = await #expect(throws: RedisClientError.self) { try await group.next() }
                #expect(cancelled?.code == .cancelled, "\(String(describing: cancelled))")
            }
            let unsubscribed = await eventually(within: .seconds(5)) {
                server.requests.contains { $0.name == "UNSUBSCRIBE" }
            }
            try #require(unsubscribed)
            let started = ContinuousClock.now
            let error = await #expect(throws: RedisClientError.self) {
                try await client.subscribe(channels: ["C"]) { _ in Issue.record("confirmed by a stale answer") }
            }
            #expect(error?.code == .timeout, "\(String(describing: error))")
            #expect(ContinuousClock.now - started >= .milliseconds(700))
        }
    }
}
