import Locky
import LockyRedis
import LockyTestSupport
import Testing

@testable import Locky

/// Lock events of the locker API on Redlock: two calls of one locker that each took a
/// minority of nodes (and gave it back) are no lock.
@Suite("Locker review: Redlock locker events")
struct LockerReviewEventTests {
    /// X holds `r` on nodes 1 and 2: locker L's lock takes node 0 and gives it back (busy).
    /// Then X holds nodes 0 and 2: L's next lock takes node 1 and gives it back. Each node
    /// reported L's `locked` and `unlocked` once; both calls had one tag (a hash of the locker
    /// id), so the merger counted node 0's and node 1's reports as a quorum: subscribers saw
    /// "locked r by L" and "unlocked r" for a lock L never held.
    @Test func twoMinorityLocksOfOneLockerAreNoLock() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(2)))
            let recording = try await LockEventTests.recording(client) { recording in
                for server in servers[1...] { _ = try server.cli("SET", "locky:{r}", "X") }
                #expect(try await client.lock("r", locker: "L").isLocked == false)
                _ = try servers[1].cli("DEL", "locky:{r}")
                _ = try servers[0].cli("SET", "locky:{r}", "X")
                #expect(try await client.lock("r", locker: "L").isLocked == false)
                // A real lock: its events come after the reports of the two calls.
                #expect(try await client.lock("end", locker: "L").isLocked)
                #expect(try await recording.wait { $0.contains("locked end by L") })
            }
            #expect(recording.descriptions == ["locked end by L"])
            await client.close()
        }
    }

    /// The same for two attempts of one lease (retries): X holds nodes 1 and 2, the first
    /// attempt takes node 0 and gives it back; X then holds nodes 0 and 2, the second attempt
    /// (a second later) takes node 1 and gives it back. Both attempts had the lease owner's tag:
    /// subscribers saw "locked r by w" and "unlocked r".
    @Test func twoMinorityAttemptsOfOneLeaseAreNoLock() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(2)))
            let recording = try await LockEventTests.recording(client) { recording in
                for server in servers[1...] { _ = try server.cli("SET", "locky:{r}", "X") }
                async let attempts: Void = {
                    let error = await expectLockError(.busy) {
                        _ = try await client.acquire(
                            "r", ttl: .seconds(10), label: "w", retry: RetryPolicy(count: 1, delay: .seconds(1), jitter: .zero))
                    }
                    #expect(error != nil)
                }()
                // Between the attempts (the first is done within milliseconds, the second a second later).
                try await Task.sleep(for: .milliseconds(500))
                _ = try servers[1].cli("DEL", "locky:{r}")
                _ = try servers[0].cli("SET", "locky:{r}", "X")
                await attempts
                #expect(try servers[1].cli("GET", "locky:{r}") == "")
                #expect(try await client.lock("end", locker: "L").isLocked)
                #expect(try await recording.wait { $0.contains("locked end by L") })
            }
            #expect(recording.descriptions == ["locked end by L"])
            await client.close()
        }
    }

    /// Each acquire attempt, lock and refresh call has a tag of its own, as an unconditional unlock has.
    @Test func lockerCallsHaveATagPerCall() async throws {
        // Never connected: the requests are only built.
        let client = try RedisClient(configuration: RedisConfiguration(url: "redis://127.0.0.1:7699"))
        let backend = RedisLockBackend(client: client, keyspace: try LockKeyspace())
        let acquire = backend.acquireRequest(["r"], owner: "w/secret", ttl: .seconds(1))
        #expect(acquire.command != backend.acquireRequest(["r"], owner: "w/secret", ttl: .seconds(1)).command)
        let lock = backend.lockRequest(["r"], locker: "L", ttl: nil, force: false)
        #expect(lock.command != backend.lockRequest(["r"], locker: "L", ttl: nil, force: false).command)
        // An owner-checked unlock keeps the locker's tag: a retry after a partial failure completes its `unlocked`.
        #expect(backend.unlockRequest(["r"], owner: "L").command == backend.unlockRequest(["r"], owner: "L").command)
        #expect(
            backend.refreshRequest(["r"], locker: "L", ttl: .seconds(1)).command
                != backend.refreshRequest(["r"], locker: "L", ttl: .seconds(1)).command)
        await client.close()
    }
}
