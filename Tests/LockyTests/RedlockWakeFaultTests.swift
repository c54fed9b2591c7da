import Locky
import LockyRedis
import LockyTestSupport
import Testing

/// Waiting acquires on Redlock while nodes are stopped, restarted or drop their subscriptions:
/// the waiter is woken as soon as the lock can be taken on a quorum, not at its timeout.
@Suite("Redlock waiters under node faults", .timeLimit(.minutes(1)))
struct RedlockWakeFaultTests {
    /// A client whose connections (and each node's run_id) are open, so that attempts do not
    /// wait for a stopped node they need not hear from.
    static func warmClient(_ servers: [RedisServer], nodeTimeout: Duration = .milliseconds(100)) async throws -> LockClient {
        let client = try LockClient(
            configuration: try RedlockFaultTests.configuration(
                servers, nodeTimeout: nodeTimeout,
                retry: RetryPolicy(count: -1, delay: .milliseconds(100), jitter: .milliseconds(10))))
        let lease = try await client.tryAcquire("warm-up", ttl: .seconds(5))
        _ = try await client.release(lease)
        return client
    }

    /// A waiter on `resource` of `client`, timing out after 10 s, with when it got the lock.
    static func waiter(_ client: LockClient, _ resource: String) -> Task<(lease: Lease, at: ContinuousClock.Instant), any Error> {
        Task {
            let lease = try await client.acquire(resource, ttl: .seconds(5), timeout: .seconds(10))
            return (lease, ContinuousClock.now)
        }
    }

    /// A node stopped (connections open, nothing answered) while a wait starts: its wake
    /// subscription goes unconfirmed until the node timeout. The wait made its first attempt
    /// only then (about 1 s here), although a quorum of nodes was subscribed and grants the
    /// free lock at once. Now it starts once a quorum confirmed, and counts the stopped node as
    /// missing (degraded wake-ups) until it confirms.
    @Test func aStoppedMinorityNodeDoesNotDelayTheFirstAttempt() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let client = try await Self.warmClient(servers, nodeTimeout: .seconds(1))
            servers[0].pause()
            let start = ContinuousClock.now
            let lease = try await client.acquire("job", ttl: .seconds(5), timeout: .seconds(5))
            let elapsed = ContinuousClock.now - start
            servers[0].resume()
            #expect(elapsed < .milliseconds(400), "the free lock was taken \(elapsed) after the wait started")
            _ = try await client.release(lease)
            await client.close()
        }
    }

    /// Node 2 is slow (400 ms each way through a proxy) while the wait starts: its wake
    /// subscription is still unconfirmed when the quorum's is, and fails at the node timeout
    /// (300 ms), after the wait started; then it is fast again, but its subscription comes back
    /// only at the background retry, a second later. The holder holds nodes 1 and 2, so its
    /// release is reported by node 1 alone to this waiter: no quorum. A node still unconfirmed
    /// at the start counts as missing, so the degraded wake-ups (every 100–125 ms) wake the
    /// waiter; had it not counted, the waiter slept until that retry's gap (about 700 ms after
    /// the release) or the holder's expiry.
    @Test func aNodeUnconfirmedAtTheStartCountsMissing() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            try await FaultProxy.withProxy(upstream: servers[2].port) { proxy in
                _ = try servers[0].cli("SET", "locky:{job}", "someone-else", "PX", "60000")
                let holder = try await Self.warmClient(servers)
                let nodes = try [servers[0].url, servers[1].url, proxy.url].map { url in
                    var node = try RedisConfiguration(url: url)
                    node.reconnect = RedisReconnectPolicy(initialDelay: .milliseconds(10), maximumDelay: .milliseconds(50))
                    return node
                }
                let waiterClient = try LockClient(
                    configuration: LockyConfiguration(
                        backend: .redlock(RedlockConfiguration(nodes: nodes, nodeTimeout: .milliseconds(300))),
                        retry: RetryPolicy(count: -1, delay: .milliseconds(100), jitter: .milliseconds(10))))
                // Every node's connection and run_id, so attempts need not wait for a slow node.
                _ = try await waiterClient.holder(of: "warm-up")
                let lease = try await holder.tryAcquire("job", ttl: .seconds(5))
                proxy.set(.latency(.milliseconds(400)))
                let waiting = Self.waiter(waiterClient, "job")
                try await Task.sleep(for: .milliseconds(350))
                proxy.heal()
                try await Task.sleep(for: .milliseconds(250))
                #expect(try await holder.release(lease) == .released)
                let released = ContinuousClock.now
                let (second, at) = try await waiting.value
                #expect(at - released < .milliseconds(400), "the waiter got the lock \(at - released) after the release")
                _ = try await waiterClient.release(second)
                await holder.close()
                await waiterClient.close()
            }
        }
    }

    /// The holder's release reaches only a quorum (one node is stopped): that quorum's reports
    /// wake the waiter, which takes the lock on it.
    @Test func aReleaseReachingOnlyAQuorumWakesTheWaiter() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let holder = try await Self.warmClient(servers)
            let waiterClient = try await Self.warmClient(servers)
            let lease = try await holder.tryAcquire("job", ttl: .seconds(5))
            let waiting = Self.waiter(waiterClient, "job")
            try await Task.sleep(for: .milliseconds(300))
            servers[0].pause()
            #expect(try await holder.release(lease) == .released)
            let released = ContinuousClock.now
            let (second, at) = try await waiting.value
            servers[0].resume()
            #expect(at - released < .milliseconds(400), "the waiter got the lock \(at - released) after the release")
            _ = try await waiterClient.release(second)
            await holder.close()
            await waiterClient.close()
        }
    }

    /// A node restarts empty while the holder holds the lock: the waiter's subscription there
    /// comes back with a gap (one retry, busy on the other two; its give-back on the restarted
    /// node is a minority release and wakes nobody: no storm), and the holder's release on the
    /// other two wakes the waiter at once.
    @Test func aNodeRestartingEmptyWhileWaiting() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let holder = try await Self.warmClient(servers)
            let waiterClient = try await Self.warmClient(servers)
            let lease = try await holder.tryAcquire("job", ttl: .seconds(10))
            let waiting = Self.waiter(waiterClient, "job")
            try await Task.sleep(for: .milliseconds(300))
            try await servers[0].restart()
            // Reconnected and subscribed again (reconnects every 10–50 ms).
            try await Task.sleep(for: .milliseconds(500))
            _ = try servers[1].cli("CONFIG", "RESETSTAT")
            try await Task.sleep(for: .seconds(1))
            let attempts = try RedlockWaitingTests.scriptCalls(on: servers[1])
            #expect(attempts <= 2, "\(attempts) script calls on a healthy node in 1 s of a held lock")
            #expect(try await holder.release(lease) == .released)
            let released = ContinuousClock.now
            let (second, at) = try await waiting.value
            #expect(at - released < .milliseconds(400), "the waiter got the lock \(at - released) after the release")
            _ = try await waiterClient.release(second)
            await holder.close()
            await waiterClient.close()
        }
    }

    /// The waiter's subscriptions are dropped (`CLIENT KILL TYPE pubsub`) on one of the two
    /// nodes the holder holds, right before the release: that node's report may be missed, and
    /// the other's alone is no quorum; the gap of its resubscription wakes the waiter.
    @Test func aDroppedSubscriptionDuringTheReleaseStillWakesTheWaiter() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            _ = try servers[0].cli("SET", "locky:{job}", "someone-else", "PX", "60000")
            let holder = try await Self.warmClient(servers)
            let waiterClient = try await Self.warmClient(servers)
            let lease = try await holder.tryAcquire("job", ttl: .seconds(8))
            let waiting = Self.waiter(waiterClient, "job")
            try await Task.sleep(for: .milliseconds(300))
            _ = try servers[1].cli("CLIENT", "KILL", "TYPE", "pubsub")
            #expect(try await holder.release(lease) == .released)
            let released = ContinuousClock.now
            let (second, at) = try await waiting.value
            #expect(at - released < .milliseconds(400), "the waiter got the lock \(at - released) after the release")
            _ = try await waiterClient.release(second)
            await holder.close()
            await waiterClient.close()
        }
    }
}
