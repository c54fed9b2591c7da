import Foundation
import Locky
import LockyRedis
import LockyTestSupport
import Testing

/// A Redlock extend's validity against what the nodes really hold: the quorum that confirms an
/// extend need not be the one that confirmed the lease before.
@Suite("Redlock extend validity", .serialized)
struct RedlockExtendValidityTests {
    /// A client over `urls`, each node reconnecting quickly.
    static func client(_ urls: [String], nodeTimeout: Duration = .milliseconds(200)) throws -> LockClient {
        let nodes = try urls.map { url in
            var node = try RedisConfiguration(url: url)
            node.reconnect = RedisReconnectPolicy(initialDelay: .milliseconds(10), maximumDelay: .milliseconds(50))
            return node
        }
        return try LockClient(
            configuration: LockyConfiguration(
                backend: .redlock(RedlockConfiguration(nodes: nodes, nodeTimeout: nodeTimeout)), retry: .never))
    }

    /// The lock key's remaining time on `server` in ms (negative when there is none).
    static func pttl(_ server: RedisServer, _ resource: String) throws -> Int {
        Int(try server.cli("PTTL", "locky:{\(resource)}").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -2
    }

    /// Node C misses a first `extend(by:)` (its bytes are dropped; A and B make the quorum), so
    /// its key keeps the acquire's expiry. Node B then restarts empty. A second `extend(by:)` is
    /// confirmed by A and C: adding to the lease's validity would claim C's key lasts as long as
    /// A's, but C's ends about 3 s after the acquire, while the lease would say 7 s. Once C's key
    /// is gone, B and C are a free majority: another owner takes the lock, and the first lease
    /// must no longer be valid by then.
    @Test func anExtendByAddingCountsOnlyWhatItsQuorumHolds() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            try await FaultProxy.withProxy(upstream: servers[2].port) { proxy in
                let urls = [servers[0].url, servers[1].url, proxy.url]
                let client = try Self.client(urls)
                // Every node's connection and run_id first, so an extend need not wait for all.
                _ = try await client.holder(of: "warm-up")
                // 4 s, not less: on a loaded machine the first extend came after a 2 s lease's keys
                // had expired on A and B (2 runs in about 45), and it was answered `alreadyExpired`.
                let lease = try await client.tryAcquire("r", ttl: .seconds(4))

                proxy.blackhole(.clientToServer)
                try await client.extend(lease, by: .seconds(4))
                await proxy.resetAll()
                proxy.heal()
                #expect(try Self.pttl(servers[2], "r") <= 4000, "node C must have missed the first extend")

                try await servers[1].restart()
                // Both reconnect (the restarted node and the one whose connection was reset).
                _ = try? await client.holder(of: "warm-up")
                _ = try? await client.holder(of: "warm-up")
                try await client.extend(lease, by: .seconds(1))

                // What a quorum (2 of 3) really holds: the second-longest remaining time.
                let keys = try servers.map { try Self.pttl($0, "r") }
                let held = keys.sorted(by: >)[1]
                let claimed = lease.remaining
                #expect(
                    claimed <= .milliseconds(held), "the lease claims \(claimed) while a quorum holds \(held) ms (keys: \(keys))")

                // Once node C's key is gone, B and C are a free majority.
                try await Task.sleep(for: .milliseconds(max(held, 0) + 100))
                let other = try Self.client(urls)
                _ = try? await other.holder(of: "warm-up")
                let second = try await other.tryAcquire("r", ttl: .seconds(5))
                #expect(!lease.isValid, "two valid leases at once: the first still claims \(lease.remaining)")
                _ = try await other.release(second)
                _ = try? await client.release(lease)
                await other.close()
                await client.close()
            }
        }
    }
}
