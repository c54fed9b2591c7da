import Locky
import LockyRedis
import LockyTestSupport
import Testing

/// An acquire cancelled while its connection is being made (a frozen server: SIGSTOP) returns
/// at once with `cancelled`, and leaves no lock behind once the server wakes: the acquire is
/// still sent, and the release the client sends for it goes behind it. It used to wait out the
/// connect timeout (5 s) first, or, with the server back in time, hand a lease to a cancelled task.
@Suite(.serialized, .timeLimit(.minutes(1))) struct CancelWhileConnectingLockTests {
    @Test func aCancelledRedisAcquireReturnsAtOnceAndLeavesNoLock() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            defer { server.resume() }
            let client = try LockClient(configuration: try LockyConfiguration(url: server.url))
            let other = try LockClient(configuration: try LockyConfiguration(url: server.url))
            do {
                try await Self.cancelWhileConnecting(client, resume: { server.resume() })
                // The acquire ran, then its release: the lock is free for another client.
                #expect(try await eventually { (try? server.cli("EXISTS", "locky:{job}")) == "0" })
                let lease = try await other.tryAcquire("job", ttl: .seconds(30))
                #expect(lease.isValid)
                #expect(lease.fencingToken == 2, "the cancelled acquire ran (token 1) before its release")
                _ = try await other.release(lease)
            } catch {
                await client.close()
                await other.close()
                throw error
            }
            await client.close()
            await other.close()
        }
    }

    @Test func aCancelledRedlockAcquireReturnsAtOnceAndLeavesNoLock() async throws {
        let servers = try await RedisServer.startMany(3)
        var clients: [LockClient] = []
        do {
            for server in servers { server.pause() }
            let nodes = try servers.map { try RedisConfiguration(url: $0.url) }
            // A node timeout above the test's freeze: the connections, not the timeout, end the waits.
            let configuration = LockyConfiguration(
                backend: .redlock(RedlockConfiguration(nodes: nodes, nodeTimeout: .seconds(4))))
            clients = try [LockClient(configuration: configuration), LockClient(configuration: configuration)]
            try await Self.cancelWhileConnecting(clients[0], resume: { for server in servers { server.resume() } })
            for server in servers {
                #expect(try await eventually { (try? server.cli("EXISTS", "locky:{job}")) == "0" }, "\(server.port)")
            }
            let lease = try await clients[1].tryAcquire("job", ttl: .seconds(30))
            #expect(lease.isValid)
            #expect(lease.fencingToken == 2, "the cancelled acquire ran (token 1) before its release")
            _ = try await clients[1].release(lease)
        } catch {
            for server in servers { server.resume() }
            for client in clients { await client.close() }
            for server in servers { await server.stop() }
            throw error
        }
        for client in clients { await client.close() }
        for server in servers { await server.stop() }
    }

    /// Starts an acquire against frozen servers, cancels it while it waits for the connection,
    /// checks that it returns `cancelled` promptly, then wakes the servers.
    private static func cancelWhileConnecting(_ client: LockClient, resume: () -> Void) async throws {
        let caller = Task { () async -> (LockError?, ContinuousClock.Instant) in
            do {
                let lease = try await client.tryAcquire("job", ttl: .seconds(30))
                Issue.record("a cancelled acquire got a lease: \(lease)")
                return (nil, ContinuousClock.now)
            } catch let error as LockError {
                return (error, ContinuousClock.now)
            } catch {
                Issue.record("expected a LockError, got \(error)")
                return (nil, ContinuousClock.now)
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let cancelledAt = ContinuousClock.now
        caller.cancel()
        // Long enough to see a prompt return, well before the 5 s connect timeout.
        try await Task.sleep(for: .milliseconds(1500))
        resume()
        let (error, returnedAt) = await caller.value
        #expect(error?.code == .cancelled, "\(String(describing: error))")
        #expect(returnedAt - cancelledAt < .seconds(1), "the cancelled acquire waited \(returnedAt - cancelledAt)")
    }
}
