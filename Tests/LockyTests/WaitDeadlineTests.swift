import Locky
import LockyRedis
import LockyTestSupport
import Testing

/// A waiting acquire whose attempt is in flight at its deadline, on a server that stopped
/// answering (SIGSTOP): it used to wait for the connection's command timeout (5 s) and then
/// threw `backendUnavailable`. It ends at the deadline with `timedOut`, and what the abandoned
/// attempt takes once the server resumes is given back.
@Suite("A waiting acquire's deadline on a server that stopped answering")
struct WaitDeadlineTests {
    /// The longest a wait may overrun its timeout here: the last attempt's grace (25 ms) plus
    /// slack for a busy 2-core machine.
    static let overrun: Duration = .milliseconds(150)

    /// Holds `resources[0]` for 300 ms, stops the servers at 100 ms (before the holder's expiry
    /// wakes the waiter to try again), and waits for `resources` with a 1 s timeout. Returns the
    /// error and how long the wait took; the servers run again on return.
    static func waitThroughStop(
        _ servers: [RedisServer], _ client: LockClient, _ resources: [String], fair: Bool = false
    ) async throws -> (LockError?, Duration) {
        _ = try await client.tryAcquire(resources[0], ttl: .milliseconds(300))
        let start = ContinuousClock.now
        let error = await expectLockError(.timedOut) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await Task.sleep(for: .milliseconds(100))
                    for server in servers { server.pause() }
                }
                _ = try await client.acquire(resources, ttl: .seconds(10), timeout: .seconds(1), fair: fair)
                try await group.waitForAll()
            }
        }
        let elapsed = ContinuousClock.now - start
        for server in servers { server.resume() }
        return (error, elapsed)
    }

    /// After the servers resumed and ran what was queued: only fence keys are left (no lock of
    /// the abandoned attempt, no fair-queue entry; the waiters hash may keep its `#ticket`
    /// counter, which expires on its own).
    static func expectNothingLeft(_ servers: [RedisServer], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await Task.sleep(for: .milliseconds(300))
        for server in servers {
            var keys = try server.cli("KEYS", "locky:*").split(whereSeparator: \.isNewline).map(String.init)
            keys.removeAll { $0.hasSuffix(":fence") }
            for key in keys where key.hasSuffix(":waiters") {
                if try server.cli("HKEYS", key) == "#ticket" { keys.removeAll { $0 == key } }
            }
            #expect(keys.isEmpty, "left behind on \(server.port): \(keys)", sourceLocation: sourceLocation)
        }
    }

    static func expectCut(_ error: LockError?, _ elapsed: Duration, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(elapsed >= .seconds(1) && elapsed < .seconds(1) + overrun, "\(elapsed)", sourceLocation: sourceLocation)
        #expect(
            error?.message.contains("had not answered") == true, "\(String(describing: error))", sourceLocation: sourceLocation)
    }

    @Test(arguments: [false, true])
    func redisWaitsEndAtTheDeadline(fair: Bool) async throws {
        try await RedisServer.withServer { server throws in
            let client = try LockClient(configuration: try LockyConfiguration(url: server.url))
            // One resource: queued in Redis (fair, or barging first).
            var (error, elapsed) = try await Self.waitThroughStop([server], client, ["job"], fair: fair)
            Self.expectCut(error, elapsed)
            #expect(error?.resource == "job")
            try await Self.expectNothingLeft([server])
            if !fair {
                // Two resources: the unqueued loop, woken by lock events.
                (error, elapsed) = try await Self.waitThroughStop([server], client, ["a", "b"])
                Self.expectCut(error, elapsed)
                #expect(error?.holder != nil, "the last holder seen")
                try await Self.expectNothingLeft([server])
            }
            await client.close()
        }
    }

    @Test func cancellationStaysCancelledOnAStoppedServer() async throws {
        try await RedisServer.withServer { server throws in
            let client = try LockClient(configuration: try LockyConfiguration(url: server.url))
            _ = try await client.tryAcquire("job", ttl: .milliseconds(200))
            let start = ContinuousClock.now
            let waiter = Task { try await client.acquire("job", ttl: .seconds(10), timeout: .seconds(2)) }
            try await Task.sleep(for: .milliseconds(100))
            server.pause()
            // The holder's expiry wakes the waiter, whose attempt then goes unanswered.
            try await Task.sleep(for: .milliseconds(400))
            waiter.cancel()
            _ = await expectLockError(.cancelled) { _ = try await waiter.value }
            // Its give-back is not waited for past the deadline.
            #expect(ContinuousClock.now - start < .seconds(2) + Self.overrun)
            server.resume()
            try await Self.expectNothingLeft([server])
            await client.close()
        }
    }

    @Test func redlockWaitsEndAtTheDeadline() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            // A node timeout longer than the wait: the deadline, not the node timeout, ends it.
            let client = try LockClient(
                configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(3)))
            // One node of three stopped: the quorum of two still grants it within the timeout.
            servers[2].pause()
            let lease = try await client.acquire("free", ttl: .seconds(10), timeout: .seconds(1))
            #expect(lease.isValid)
            _ = try await client.release(lease)
            servers[2].resume()

            let (error, elapsed) = try await Self.waitThroughStop(servers, client, ["job"])
            Self.expectCut(error, elapsed)
            #expect(error?.holder != nil, "the last holder seen")
            try await Self.expectNothingLeft(servers)
            await client.close()
        }
    }
}
