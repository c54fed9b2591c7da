import Locky
import LockyTestSupport
import NIOCore
import Testing

/// The fencing helper on Redlock: a write the quorum rejects changes nothing that a later read
/// returns, also on a minority node that accepted it.
@Suite("Locker review: Redlock fenced writes")
struct LockerReviewFencingTests {
    /// Node 0 missed a token-checked read with token 2 (down at the time); nodes 1 and 2 raised
    /// their fence to 2. A stale holder's write with token 1 is rejected (nodes 1 and 2), but
    /// node 0 accepted it: a read must not return it afterwards.
    // A generous node timeout: the first calls also connect and load the scripts, on a busy machine.
    @Test func aRejectedWriteIsNotReadBackFromTheMinorityThatAcceptedIt() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            _ = try servers[0].cli("HSET", "data", "fence", "1")
            _ = try servers[1].cli("HSET", "data", "fence", "2")
            _ = try servers[2].cli("HSET", "data", "fence", "2")
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(2)))
            #expect(try await client.fencedWrite("stale", to: "data", fencingToken: 1) == .rejected(highestToken: 2))
            #expect(try await client.fencedRead("data") == nil)
            #expect(try await client.fencedRead("data", fencingToken: 2) == .read(nil))
            // Node 0 has no value again, and knows token 2.
            #expect(try Self.fields(servers[0]) == ["", "", "2"])
            await client.close()
        }
    }

    /// The write a minority accepted is undone to the value it replaced; the fence is raised.
    /// With a node down, one acceptance and one rejection decide nothing (an error), and the
    /// acceptance is undone too: a newer token exists, so the writer is stale.
    @Test func aRejectedWriteIsUndoneToTheValueItReplaced() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            _ = try servers[0].cli("HSET", "data", "value", "v1", "written", "1", "fence", "1")
            for server in servers[1...] { _ = try server.cli("HSET", "data", "value", "v1", "written", "1", "fence", "3") }
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(2)))
            #expect(try await client.fencedWrite("stale", to: "data", fencingToken: 2) == .rejected(highestToken: 3))
            #expect(try Self.fields(servers[0]) == ["v1", "1", "3"])
            // Node 0 missed a newer token again; node 2 is down.
            _ = try servers[0].cli("HSET", "data", "fence", "1")
            servers[2].kill()
            _ = await expectLockError(.quorumNotReached) {
                _ = try await client.fencedWrite("stale", to: "data", fencingToken: 2)
            }
            #expect(try Self.fields(servers[0]) == ["v1", "1", "3"])
            #expect(try await client.fencedRead("data")?.string == "v1")
            await client.close()
        }
    }

    /// The value, written token and fence of `data` on `server` ("" where absent).
    private static func fields(_ server: RedisServer) throws -> [String] {
        try ["value", "written", "fence"].map { try server.cli("HGET", "data", $0) }
    }
}
