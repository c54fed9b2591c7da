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
}
