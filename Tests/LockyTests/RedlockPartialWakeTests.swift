import Locky
import LockyRedis
import LockyTestSupport
import Testing

/// A waiting acquire on Redlock whose wake subscription is missing on some node. Releases wake
/// waiters once a quorum of nodes reported them; the holder's release is reported by the nodes
/// it held, and when one of those is a node the waiter could not subscribe to, fewer than a
/// quorum of reports reach it: it slept until the holder's TTL. Now, while a subscription is
/// missing, the waiter tries again every `retry.delay`.
@Suite("Redlock waiters with a missing wake subscription")
struct RedlockPartialWakeTests {
    /// Holder on nodes 1 and 2 (node 0 is held by someone else); the waiter is subscribed on
    /// nodes 0 and 1 only. Before: the waiter got the lock about 2.7 s after the release (the
    /// holder's TTL). After: within `retry.delay` (100 ms) and a round trip, asserted < 400 ms.
    @Test func aRefusedSubscriptionStillWakesTheWaiterPromptly() async throws {
        // Node 2's user may do anything but SUBSCRIBE: its commands work, its wake-ups never come.
        try await SubscribeRefusingNodes.with { servers, urls in
            let waited = try await Self.releaseWhileAWaiterMissesNode2(servers, urls: urls)
            #expect(waited < .milliseconds(400), "the waiter got the lock \(waited) after the release")
        }
    }

    /// Node 2 is down while the waiter subscribes, and back (with its data) before the holder
    /// releases; its subscription comes back only at the next background attempt (after 1 s,
    /// then 2 s, …). Before: the waiter got the lock at that attempt, about 1.3 s after the
    /// release. After: within `retry.delay` and a round trip, asserted < 400 ms.
    @Test func aNodeBackBeforeItsSubscriptionStillWakesTheWaiterPromptly() async throws {
        let servers = try await RedisServer.startMany(3, RedisServer.Options(persistence: true))
        do {
            let waited = try await Self.releaseWhileAWaiterMissesNode2(servers, urls: servers.map(\.url)) {
                servers[2].kill()
            } whileWaiting: {
                // Past the first background attempt (1 s), well before the second (3 s).
                try await Task.sleep(for: .milliseconds(1500))
                try await servers[2].restart()
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(waited < .milliseconds(400), "the waiter got the lock \(waited) after the release")
        } catch {
            for server in servers { await server.stop() }
            throw error
        }
        for server in servers { await server.stop() }
    }

    /// Node 0 is held by another owner, so the holder holds nodes 1 and 2; a waiter starts
    /// (`beforeWaiting`, then `whileWaiting` once it waits), the holder releases: how long
    /// until the waiter has the lock.
    static func releaseWhileAWaiterMissesNode2(
        _ servers: [RedisServer],
        urls: [String],
        beforeWaiting: () async throws -> Void = {},
        whileWaiting: () async throws -> Void = {}
    ) async throws -> Duration {
        let nodes = try urls.map { url in
            var node = try RedisConfiguration(url: url)
            node.reconnect = RedisReconnectPolicy(initialDelay: .milliseconds(10), maximumDelay: .milliseconds(50))
            return node
        }
        let configuration = LockyConfiguration(
            backend: .redlock(RedlockConfiguration(nodes: nodes)),
            retry: RetryPolicy(count: -1, delay: .milliseconds(100), jitter: .milliseconds(10)))
        _ = try servers[0].cli("SET", "locky:{job}", "someone-else", "PX", "60000")
        let holder = try LockClient(configuration: configuration)
        let waiter = try LockClient(configuration: configuration)
        let lease = try await holder.tryAcquire("job", ttl: .seconds(3))
        try await beforeWaiting()
        let waiting = Task { try await waiter.acquire("job", ttl: .seconds(5), timeout: .seconds(10)) }
        try await Task.sleep(for: .milliseconds(300))
        try await whileWaiting()
        #expect(try await holder.release(lease) == .released)
        let released = ContinuousClock.now
        let second = try await waiting.value
        let waited = ContinuousClock.now - released
        _ = try await waiter.release(second)
        await holder.close()
        await waiter.close()
        return waited
    }
}
