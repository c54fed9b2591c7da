import LockyRESP
import LockyRedis
import LockyTestSupport
import Testing

/// `close()` while a connection is being made.
@Suite struct CloseWhileConnectingTests {
    /// A stopped server accepts the TCP connection but never answers the handshake. `close()`
    /// used to wait out the connect timeout (5 s; every CLI run against a Redlock list with a
    /// stopped node took that long to exit); it now ends the handshake at once.
    @Test func closeEndsAHandshakeThatIsNotAnswered() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            defer { server.resume() }
            let client = try RedisClient(configuration: try RedisConfiguration(url: server.url))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let (error, _) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                    #expect(error != nil)
                }
                try await Task.sleep(for: .milliseconds(300))
                let start = ContinuousClock.now
                await client.close()
                let took = ContinuousClock.now - start
                #expect(took < .seconds(1), "close took \(took)")
                try await group.waitForAll()
            }
        }
    }

    /// A caller waiting out the reconnect backoff (its server is gone) when the client is closed
    /// ends at once with `closed`; it used to sleep out the backoff first (here 2 s).
    @Test func closeEndsAWaitForTheNextConnectionAttempt() async throws {
        try await RedisServer.withServer { server throws in
            var configuration = try RedisConfiguration(url: server.url)
            configuration.reconnect = RedisReconnectPolicy(initialDelay: .seconds(2), maximumDelay: .seconds(2), jitter: 0)
            let client = try RedisClient(configuration: configuration)
            #expect(try await client.execute(RESPCommand("PING")).decode(as: String.self) == "PONG")
            server.kill()
            // Noticed with the next command: an attempt is refused, the next waits 2 s.
            _ = await eventually {
                let (error, _) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                return error?.code == .connectionFailed
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let (error, elapsed) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                    #expect(error?.code == .closed, "\(String(describing: error))")
                    #expect(elapsed < .seconds(1), "the caller waited \(elapsed)")
                }
                try await Task.sleep(for: .milliseconds(200))
                await client.close()
                try await group.waitForAll()
            }
        }
    }
}
