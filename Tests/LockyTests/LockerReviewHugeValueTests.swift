import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import NIOCore
import Testing

/// Fenced values above the client's bulk-string limit (64 MiB by default; 256 KiB here, so the
/// tests stay light).
@Suite("Locker review: huge fenced values")
struct LockerReviewHugeValueTests {
    static let limit = 256 << 10
    static let hugeText = String(repeating: "a", count: 300 << 10)

    static func node(_ server: RedisServer) throws -> RedisConfiguration {
        var node = try RedisConfiguration(url: server.url)
        node.limits.maximumBulkLength = limit
        return node
    }

    /// Redis would store a value that no reply can bring back: every read of it failed with
    /// `backendUnavailable` (a malformed reply). Such a write is refused before it is sent.
    @Test func aValueNoReplyCouldBringBackIsRefused() async throws {
        try await RedisServer.withServer { server in
            let client = try LockClient(configuration: LockyConfiguration(backend: .redis(try Self.node(server))))
            _ = await expectLockError(.invalidArgument) {
                _ = try await client.fencedWrite(Self.hugeText, to: "big", fencingToken: 1)
            }
            #expect(try server.cli("EXISTS", "big") == "0")
            // Up to the limit it round-trips.
            let largest = String(repeating: "b", count: Self.limit)
            #expect(try await client.fencedWrite(largest, to: "big", fencingToken: 1) == .accepted)
            #expect(try await client.fencedRead("big")?.string == largest)
            await client.close()
        }
    }

    /// On Redlock a write is told what it replaced (to undo it where the quorum rejects it): a
    /// replaced value longer than the client takes in a reply (stored by a client with a higher
    /// limit) is not sent back, or every later write's reply would fail to parse.
    @Test func aWriteOverAValueAboveTheBulkLimitIsAcceptedOnRedlock() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let client = try LockClient(
                configuration: LockyConfiguration(
                    backend: .redlock(RedlockConfiguration(nodes: try servers.map(Self.node), nodeTimeout: .seconds(2)))))
            // Stored past the limit through connections of their own (redis-cli takes no argument this long).
            let raws = try servers.map { try RedisClient(url: $0.url) }
            for raw in raws {
                _ = try await raw.execute(RESPCommand("HSET", "big", "value", Self.hugeText, "written", "1", "fence", "1"))
            }
            #expect(try await client.fencedWrite("small", to: "big", fencingToken: 2) == .accepted)
            #expect(try await client.fencedRead("big")?.string == "small")
            _ = await expectLockError(.invalidArgument) {
                _ = try await client.fencedWrite(Self.hugeText, to: "big", fencingToken: 3)
            }
            // A rejected write over a value too long to send back stays; the fence is raised.
            _ = try await raws[0].execute(RESPCommand("HSET", "big", "value", Self.hugeText, "written", "3", "fence", "3"))
            for raw in raws[1...] {
                _ = try await raw.execute(RESPCommand("HSET", "big", "value", Self.hugeText, "written", "3", "fence", "5"))
            }
            #expect(try await client.fencedWrite("stale", to: "big", fencingToken: 4) == .rejected(highestToken: 5))
            #expect(try servers[0].cli("HGET", "big", "fence") == "5")
            await client.close()
            for raw in raws { await raw.close() }
        }
    }
}
