import Locky
import LockyRedis
import LockyTestSupport
import Testing

/// A waiting acquire subscribes to its wake-ups before its first attempt. On a server that
/// stopped answering (SIGSTOP) the subscription waited for the subscribe timeout (the command
/// timeout, 5 s), and the wait then threw `backendUnavailable` long after its own timeout. It is
/// bounded by the time the wait has left: `timedOut` at the deadline, nothing subscribed or
/// locked behind, and the client's shared subscriber connection serves everyone else on.
@Suite("A waiting acquire's subscription on a server that stopped answering")
struct WaitSubscriptionDeadlineTests {
    static let timeout: Duration = .milliseconds(200)

    /// Waits for `resources` with ``timeout`` on a stopped `server`; returns the error and how
    /// long the wait took. The server runs again on return.
    static func waitOnStopped(_ server: RedisServer, _ client: LockClient, _ resources: [String]) async -> (LockError?, Duration)
    {
        server.pause()
        let start = ContinuousClock.now
        let error = await expectLockError(.timedOut) {
            _ = try await client.acquire(resources, ttl: .seconds(10), timeout: timeout)
        }
        let elapsed = ContinuousClock.now - start
        server.resume()
        return (error, elapsed)
    }

    static func expectCut(_ error: LockError?, _ elapsed: Duration, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(
            elapsed >= timeout && elapsed < timeout + WaitDeadlineTests.overrun, "\(elapsed)", sourceLocation: sourceLocation)
        #expect(error?.message.contains("subscription") == true, "\(String(describing: error))", sourceLocation: sourceLocation)
    }

    /// One resource (its client's wake channel) and two (the event channel), on a client that
    /// has no subscription yet: the wait ends at its deadline, and leaves nothing behind.
    @Test(arguments: [["job"], ["a", "b"]])
    func theWaitEndsAtItsDeadline(resources: [String]) async throws {
        try await RedisServer.withServer { server throws in
            let client = try LockClient(configuration: try LockyConfiguration(url: server.url))
            // Connected for commands: only the subscription is left to wait for.
            #expect(try await client.holder(of: "job") == nil)
            let (error, elapsed) = await Self.waitOnStopped(server, client, resources)
            Self.expectCut(error, elapsed)
            try await WaitDeadlineTests.expectNothingLeft([server])
            #expect(try server.cli("PUBSUB", "CHANNELS", "locky:*").isEmpty, "still subscribed")
            // The next wait subscribes and is woken by the release.
            let holder = try await client.tryAcquire(resources, ttl: .seconds(10))
            let waiter = Task { try await client.acquire(resources, ttl: .seconds(10), timeout: .seconds(5)) }
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await client.release(holder) == .released)
            let lease = try await within(.seconds(1), "the next wait") { try await waiter.value }
            #expect(try await client.release(lease) == .released)
            await client.close()
        }
    }

    /// Redlock waits for every node's first subscription before the first attempt: each is
    /// bounded by the time left too (not the node timeout), a node that did not confirm counts
    /// as missing, and the attempt at the deadline is cut as on a node that stopped answering.
    @Test func redlockWaitsEndAtTheirDeadline() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            // A node timeout longer than the wait: the deadline, not the node timeout, ends it.
            let client = try LockClient(
                configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(3)))
            #expect(try await client.holder(of: "job") == nil)
            for server in servers { server.pause() }
            let start = ContinuousClock.now
            let error = await expectLockError(.timedOut) {
                _ = try await client.acquire("job", ttl: .seconds(10), timeout: Self.timeout)
            }
            let elapsed = ContinuousClock.now - start
            for server in servers { server.resume() }
            #expect(elapsed >= Self.timeout && elapsed < Self.timeout + WaitDeadlineTests.overrun, "\(elapsed)")
            #expect(error?.message.contains("had not answered") == true, "\(String(describing: error))")
            try await WaitDeadlineTests.expectNothingLeft(servers)
            await client.close()
        }
    }

    /// The subscriber connection is shared by the client's subscriptions: the wait's unconfirmed
    /// subscription ends alone, and an event stream on the same client sees no gap (the
    /// connection was not dropped) and every event after the server resumed.
    @Test func theSharedSubscriberServesOn() async throws {
        try await RedisServer.withServer { server throws in
            let client = try LockClient(configuration: try LockyConfiguration(url: server.url))
            let seen = Shared<[String]>([])
            try await client.events { stream in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await event in stream { seen.update { $0.append("\(event)") } }
                    }
                    defer { group.cancelAll() }
                    // One resource: the wake channel, not yet subscribed (the events channel is).
                    let (error, elapsed) = await Self.waitOnStopped(server, client, ["job"])
                    Self.expectCut(error, elapsed)
                    let lease = try await client.tryAcquire("after", ttl: .seconds(10))
                    #expect(try await client.release(lease) == .released)
                    let released = try await eventually(within: .seconds(2)) {
                        seen.value.contains { $0.hasPrefix("unlocked") && $0.contains("after") }
                    }
                    #expect(released, "\(seen.value)")
                    #expect(!seen.value.contains { $0.hasPrefix("gap") }, "\(seen.value)")
                }
            }
            await client.close()
        }
    }
}
