import LockyRESP
import LockyRedis
import LockyTestSupport
import Testing

/// The pub/sub connection's reconnect backoff holds however many subscriptions arrive.
@Suite struct SubscriberBackoffTests {
    /// Every waiting acquire subscribes. Against a server that drops each connection after its
    /// handshake, new subscriptions used to cancel the backoff and dial at once, one connection
    /// each; now they wait for the next scheduled attempt and are told why it failed.
    @Test func newSubscriptionsDoNotBypassTheBackoff() async throws {
        let server = try await ScriptedServer.start { request in
            request.isHandshake ? .standard : .nothing(then: .close)
        }
        let client = try RedisClient(configuration: try RedisConfiguration(url: server.url))
        var errors: [RedisClientError] = []
        for index in 0..<40 {
            let (error, _) = await clientError {
                try await client.subscribe(channels: ["dropped-\(index)"], timeout: .milliseconds(40), handler: { _ in }) {}
            }
            if let error { errors.append(error) }
        }
        #expect(errors.count == 40)
        // 40 subscriptions over about 1.6 s: the backoff (25 ms doubling, jittered) allows about 8 attempts.
        #expect(server.connectionCount <= 15, "\(server.connectionCount) connections for 40 subscriptions")
        // While backing off, the error names the failure, not a silent server.
        #expect(errors.contains { $0.code == .unavailable && $0.message.contains("reconnecting after") })
        await client.close()
        await server.stop()
    }
}
