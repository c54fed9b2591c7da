import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// A task cancelled while its command waits for the connection being made (a frozen server:
/// SIGSTOP) returns at once with `cancelled` and `mayHaveRun`, as a cancelled reply wait does,
/// and its command keeps its place: it is sent once the connection is up, ahead of anything
/// sent later (a release after an acquire). It used to wait out the connect timeout (5 s) and
/// fail with `connectionFailed`.
@Suite(.serialized, .timeLimit(.minutes(1))) struct CancelWhileConnectingTests {
    /// How long a cancelled caller may take to return: generous for a loaded machine, far below
    /// the 5 s connect timeout it used to wait out.
    static let prompt: Duration = .seconds(1)

    @Test func aCancelledCommandReturnsAtOnceAndStillRunsAfterTheServerWakes() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            defer { server.resume() }
            try await withClient(server) { client throws in
                let caller = Task { () async -> (RedisClientError?, Int?, ContinuousClock.Instant) in
                    let (error, _) = await clientError { _ = try await client.execute(RESPCommand("SET", "k", "v")) }
                    let returnedAt = ContinuousClock.now
                    // Cleanup from the cancelled task: waits for the connection and goes behind the SET.
                    let deleted = try? await run(client, RESPCommand("DEL", "k"), as: Int.self)
                    return (error, deleted, returnedAt)
                }
                try await Task.sleep(for: .milliseconds(300))
                let cancelledAt = ContinuousClock.now
                caller.cancel()
                // The SET caller returns while the server is still frozen.
                try await Task.sleep(for: .milliseconds(1200))
                server.resume()
                let (error, deleted, returnedAt) = await caller.value
                #expect(error?.code == .cancelled, "\(String(describing: error))")
                #expect(error?.mayHaveRun == true)
                #expect(returnedAt - cancelledAt < Self.prompt, "the cancelled caller waited \(returnedAt - cancelledAt)")
                #expect(deleted == 1, "the cancelled SET was sent, ahead of the DEL behind it")
                #expect(try server.cli("EXISTS", "k") == "0")
                // The dropped reply went to nobody: the stream is in step.
                #expect(try await run(client, RESPCommand("ECHO", "in-step"), as: String.self) == "in-step")
            }
        }
    }

    @Test func aCancelledCommandIsSentOnceTheConnectionIsUp() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            defer { server.resume() }
            try await withClient(server) { client throws in
                let caller = Task { await clientError { _ = try await client.execute(RESPCommand("INCR", "n")) } }
                try await Task.sleep(for: .milliseconds(300))
                caller.cancel()
                let (error, elapsed) = await caller.value
                #expect(error?.code == .cancelled, "\(String(describing: error))")
                #expect(error?.mayHaveRun == true)
                #expect(elapsed < .milliseconds(300) + Self.prompt, "\(elapsed)")
                server.resume()
                let ran = await eventually { (try? server.cli("GET", "n")) == "1" }
                #expect(ran, "the INCR of the cancelled caller was not sent after the server woke")
                #expect(try await run(client, RESPCommand("INCR", "n"), as: Int.self) == 2, "sent once, not twice")
            }
        }
    }

    @Test func aCancelledBatchReturnsAtOnceAndStillRuns() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            defer { server.resume() }
            try await withClient(server) { client throws in
                let caller = Task { () async -> ([Result<RESPToken, RedisClientError>], ContinuousClock.Instant) in
                    let results = await client.execute(batch: [RESPCommand("SET", "a", "1"), RESPCommand("SET", "b", "2")])
                    return (results, ContinuousClock.now)
                }
                try await Task.sleep(for: .milliseconds(300))
                let cancelledAt = ContinuousClock.now
                caller.cancel()
                let (results, returnedAt) = await caller.value
                #expect(returnedAt - cancelledAt < Self.prompt, "\(returnedAt - cancelledAt)")
                #expect(results.count == 2)
                for result in results {
                    guard case .failure(let error) = result else {
                        Issue.record("expected cancelled, got \(result)")
                        continue
                    }
                    #expect(error.code == .cancelled, "\(error)")
                    #expect(error.mayHaveRun)
                }
                server.resume()
                #expect(await eventually { (try? server.cli("GET", "b")) == "2" })
                #expect(try server.cli("GET", "a") == "1")
                #expect(try await run(client, RESPCommand("ECHO", "in-step"), as: String.self) == "in-step")
            }
        }
    }

    /// The fan-out (Redlock's path): the frozen node's slot is `cancelled` at once, its command
    /// still goes when that node wakes; the live node gets its command without waiting for the
    /// frozen one to connect.
    @Test func aCancelledFanOutReturnsAtOnceAndStillReachesTheFrozenNode() async throws {
        let servers = try await RedisServer.startMany(2)
        var clients: [RedisClient] = []
        do {
            clients = try servers.map { try RedisClient(configuration: configuration(for: $0)) }
            _ = try await clients[0].execute(RESPCommand("PING"))
            servers[1].pause()
            let fanOut = clients
            let caller = Task { () async -> ([Result<RESPToken, RedisClientError>], ContinuousClock.Instant) in
                let results = await RedisClient.execute(RESPCommand("SET", "k", "v"), on: fanOut)
                return (results, ContinuousClock.now)
            }
            try await Task.sleep(for: .milliseconds(300))
            let cancelledAt = ContinuousClock.now
            caller.cancel()
            let (results, returnedAt) = await caller.value
            #expect(returnedAt - cancelledAt < Self.prompt, "\(returnedAt - cancelledAt)")
            #expect(try servers[0].cli("GET", "k") == "v", "the live node got its command at once")
            if case .failure(let error) = results[1] {
                #expect(error.code == .cancelled, "\(error)")
                #expect(error.mayHaveRun)
            } else {
                Issue.record("the frozen node answered: \(results[1])")
            }
            servers[1].resume()
            #expect(await eventually { (try? servers[1].cli("GET", "k")) == "v" })
            #expect(try await run(clients[1], RESPCommand("ECHO", "in-step"), as: String.self) == "in-step")
        } catch {
            servers[1].resume()
            for client in clients { await client.close() }
            for server in servers { await server.stop() }
            throw error
        }
        for client in clients { await client.close() }
        for server in servers { await server.stop() }
    }

    /// A caller that is not cancelled waits for the connection and gets its own reply.
    @Test func aWaitingCallerGetsItsReplyOnceTheServerWakes() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            defer { server.resume() }
            try await withClient(server) { client throws in
                let caller = Task { try await run(client, RESPCommand("ECHO", "mine"), as: String.self) }
                let other = Task { try await run(client, RESPCommand("ECHO", "theirs"), as: String.self) }
                try await Task.sleep(for: .milliseconds(300))
                server.resume()
                #expect(try await caller.value == "mine")
                #expect(try await other.value == "theirs")
            }
        }
    }

    /// The reply wait limit still bounds the wait for the connection (`timeout` at the limit,
    /// not the connect timeout), and, as for a reply, the command keeps its place: it runs when
    /// the server wakes, ahead of what is sent after it.
    @Test func aWaitLimitOnTheConnectionKeepsTheCommandsPlace() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            defer { server.resume() }
            try await withClient(server) { client throws in
                let (error, elapsed) = await clientError {
                    try await RedisClient.withReplyWaitLimit(.milliseconds(200)) {
                        _ = try await client.execute(RESPCommand("SET", "placed", "x"))
                    }
                }
                #expect(error?.code == .timeout, "\(String(describing: error))")
                #expect(error?.mayHaveRun == true)
                #expect(elapsed < .milliseconds(200) + Self.prompt, "\(elapsed)")
                // `.zero`: in its place, not waited for at all.
                let (zeroError, zeroElapsed) = await clientError {
                    try await RedisClient.withReplyWaitLimit(.zero) {
                        _ = try await client.execute(RESPCommand("APPEND", "placed", "y"))
                    }
                }
                #expect(zeroError?.code == .timeout, "\(String(describing: zeroError))")
                #expect(zeroElapsed < Self.prompt, "\(zeroElapsed)")
                let behind = Task { try await run(client, RESPCommand("GET", "placed"), as: String.self) }
                try await Task.sleep(for: .milliseconds(200))
                server.resume()
                #expect(try await behind.value == "xy")
            }
        }
    }
}
