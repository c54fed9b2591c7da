import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// A per-call `timeout` bounds the whole call, the wait for the connection included: against a
/// frozen server (SIGSTOP: the TCP connect succeeds, the handshake is never answered) a call with
/// a 200 ms timeout used to wait out the 5 s connect timeout and fail with `connectionFailed`.
/// As for a reply that comes too late, the command keeps its place and runs once the server
/// wakes, ahead of what is sent after it.
@Suite(.serialized, .timeLimit(.minutes(1))) struct TimeoutWhileConnectingTests {
    /// Slack for a loaded machine, far below the 5 s connect timeout the call used to wait out.
    static let slack: Duration = .seconds(1)

    @Test func aTimeoutBoundsTheWaitForTheConnection() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            defer { server.resume() }
            try await withClient(server) { client throws in
                let (error, elapsed) = await clientError {
                    _ = try await client.execute(RESPCommand("SET", "placed", "x"), timeout: .milliseconds(200))
                }
                #expect(error?.code == .timeout, "\(String(describing: error))")
                #expect(error?.mayHaveRun == true, "the command is in line and will still be sent")
                #expect(elapsed < .milliseconds(200) + Self.slack, "waited \(elapsed)")
                let behind = Task { try await run(client, RESPCommand("APPEND", "placed", "y"), as: Int.self) }
                try await Task.sleep(for: .milliseconds(200))
                server.resume()
                #expect(try await behind.value == 2, "the timed-out SET ran first, then the APPEND behind it")
                #expect(try server.cli("GET", "placed") == "xy")
            }
        }
    }

    @Test func aTimeoutBoundsABatchsWaitForTheConnection() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            defer { server.resume() }
            try await withClient(server) { client throws in
                let start = ContinuousClock.now
                let results = await client.execute(
                    batch: [RESPCommand("SET", "a", "1"), RESPCommand("SET", "b", "2")], timeout: .milliseconds(200))
                let elapsed = ContinuousClock.now - start
                #expect(elapsed < .milliseconds(200) + Self.slack, "waited \(elapsed)")
                for result in results {
                    guard case .failure(let error) = result else {
                        Issue.record("expected timeout, got \(result)")
                        continue
                    }
                    #expect(error.code == .timeout, "\(error)")
                    #expect(error.mayHaveRun)
                }
                server.resume()
                #expect(await eventually { (try? server.cli("GET", "b")) == "2" })
                #expect(try server.cli("GET", "a") == "1")
                #expect(try await run(client, RESPCommand("ECHO", "in-step"), as: String.self) == "in-step")
            }
        }
    }

    /// A timeout longer than the wait changes nothing: the caller gets its own reply.
    @Test func aLongerTimeoutStillGetsTheReply() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            defer { server.resume() }
            try await withClient(server) { client throws in
                let caller = Task { try await client.execute(RESPCommand("ECHO", "mine"), timeout: .seconds(4)) }
                try await Task.sleep(for: .milliseconds(300))
                server.resume()
                #expect(try await caller.value.decode(as: String.self) == "mine")
            }
        }
    }
}
