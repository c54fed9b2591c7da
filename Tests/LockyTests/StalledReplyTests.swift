import Locky
import LockyTestSupport
import Testing

/// A waiting acquire whose reply stalls past the TTL (a paused server) takes a lease that is
/// no longer valid; it gives it back and waits on, instead of failing as if the lock were held.
@Suite("A waiting acquire whose reply stalls")
struct StalledReplyTests {
    @Test func anExpiredHandOverIsRetriedWhileTheWaitLasts() async throws {
        try await RedisServer.withServer { server throws in
            let client = try LockClient(configuration: try LockyConfiguration(url: server.url))
            _ = try await client.tryAcquire("job", ttl: .milliseconds(300))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // The server stops while the holder's lock runs out and the waiter's attempt is on its way.
                    try await Task.sleep(for: .milliseconds(150))
                    server.pause()
                    try await Task.sleep(for: .milliseconds(1200))
                    server.resume()
                }
                let start = ContinuousClock.now
                let lease = try await client.acquire("job", ttl: .milliseconds(500))
                #expect(lease.isValid)
                #expect(ContinuousClock.now - start >= .milliseconds(1000))
                _ = try await client.release(lease)
                try await group.waitForAll()
            }
            // A TTL that no reply can beat fails after three tries, saying so, not "busy".
            let proxy = try await FaultProxy.start(upstream: server.port)
            proxy.set(.latency(.milliseconds(30)))
            let slow = try LockClient(configuration: try LockyConfiguration(url: proxy.url))
            let error = await expectLockError(.alreadyExpired) { _ = try await slow.acquire("job", ttl: .milliseconds(10)) }
            #expect(error?.message.contains("before it could be handed over") == true)
            #expect(try server.cli("EXISTS", "locky:{job}") == "0")
            await slow.close()
            await proxy.stop()
            await client.close()
        }
    }
}
