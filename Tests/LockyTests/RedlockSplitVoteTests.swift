import Locky
import LockyRedis
import LockyTestSupport
import Logging
import Testing

/// Waiting acquires on Redlock while another owner holds a quorum and a minority of nodes is free.
@Suite("Redlock split votes")
struct RedlockSplitVoteTests {
    static func backend(_ servers: [RedisServer]) throws -> RedlockBackend {
        guard case .redlock(let redlock) = try RedlockFaultTests.configuration(servers).backend else {
            throw LockError(.invalidArgument, "not a Redlock configuration")
        }
        return try RedlockBackend(
            configuration: redlock, keyspace: LockKeyspace(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// Each waiter took the free node, found the others held (busy), gave the node back, and
    /// that release woke the waiters: about 4,000 attempts a second for the whole hold, each
    /// drawing a fencing token from the free node. A minority release now wakes nobody; the
    /// holder's release still wakes them at once.
    @Test("a waiter's own minority release does not wake waiters; the holder's release does")
    func minorityReleaseWakesNobody() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let holder = try Self.backend(servers)
            let keyspace = try LockKeyspace()
            // The holder has nodes 0 and 2, a quorum; node 1 is free.
            for node in [0, 2] {
                let reply = try await holder.nodeBackends[node].acquire(["r"], owner: "blocker", ttl: .seconds(30))
                guard case .acquired = reply else {
                    Issue.record("node \(node) did not grant the blocker: \(reply)")
                    return
                }
            }
            let configuration = try RedlockFaultTests.configuration(servers)
            let first = try LockClient(configuration: configuration)
            let second = try LockClient(configuration: configuration)
            let clients = [first, second]
            try await withThrowingTaskGroup(of: (Int, Lease, ContinuousClock.Instant).self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask {
                        let lease = try await client.acquire("r", ttl: .seconds(5), timeout: .seconds(20))
                        return (index, lease, ContinuousClock.now)
                    }
                }
                // The waiters are under way (node 1 granted one of them)...
                #expect(try await eventually { (Int(try servers[1].cli("GET", keyspace.fenceKey("r"))) ?? 0) >= 1 })
                let before = Int(try servers[1].cli("GET", keyspace.fenceKey("r"))) ?? 0
                try await Task.sleep(for: .milliseconds(500))
                // ...and wait: a few attempts, not hundreds.
                let spent = (Int(try servers[1].cli("GET", keyspace.fenceKey("r"))) ?? 0) - before
                #expect(spent <= 3, "fencing tokens drawn from the free node in 0.5 s: \(spent)")

                let released = ContinuousClock.now
                async let zero = holder.nodeBackends[0].unlock(["r"], owner: "blocker")
                async let two = holder.nodeBackends[2].unlock(["r"], owner: "blocker")
                let unlocked = try await [zero, two]
                #expect(unlocked == [[.unlocked], [.unlocked]])
                guard let (index, lease, at) = try await group.next() else { return }
                #expect(at - released < .milliseconds(100), "the first waiter got it \(at - released) after the release")
                let handed = ContinuousClock.now
                #expect(try await clients[index].release(lease) == .released)
                guard let (other, otherLease, otherAt) = try await group.next() else { return }
                #expect(otherAt - handed < .milliseconds(100), "the second waiter got it \(otherAt - handed) after the release")
                _ = try await clients[other].release(otherLease)
            }
            await first.close()
            await second.close()
            await holder.close()
        }
    }
}
