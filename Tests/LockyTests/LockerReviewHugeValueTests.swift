import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import NIOCore
import Testing

/// Fenced values above the client's bulk-string limit (64 MiB by default; 256 KiB here, so the
/// test stays light).
@Suite("Locker review: huge fenced values")
struct LockerReviewHugeValueTests {
    /// On Redlock a write is told what it replaced (to undo it where the quorum rejects it): a
    /// replaced value longer than the client takes in a reply is not sent back, or every later
    /// write's reply would fail to parse.
    @Test func aWriteOverAValueAboveTheBulkLimitIsAcceptedOnRedlock() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let nodes = try servers.map { server in
                var node = try RedisConfiguration(url: server.url)
                node.limits.maximumBulkLength = 256 << 10
                return node
            }
            let client = try LockClient(
                configuration: LockyConfiguration(backend: .redlock(RedlockConfiguration(nodes: nodes, nodeTimeout: .seconds(2))))
            )
            let huge = ByteBuffer(repeating: 0x61, count: 300 << 10)
            #expect(try await client.fencedWrite(huge, to: "big", fencingToken: 1) == .accepted)
            #expect(try await client.fencedWrite("small", to: "big", fencingToken: 2) == .accepted)
            #expect(try await client.fencedRead("big")?.string == "small")
            // A rejected write over a value too long to send back stays; the fence is raised.
            #expect(try await client.fencedWrite(huge, to: "big", fencingToken: 3) == .accepted)
            _ = try servers[1].cli("HSET", "big", "fence", "5")
            _ = try servers[2].cli("HSET", "big", "fence", "5")
            #expect(try await client.fencedWrite("stale", to: "big", fencingToken: 4) == .rejected(highestToken: 5))
            #expect(try servers[0].cli("HGET", "big", "fence") == "5")
            await client.close()
        }
    }
}
