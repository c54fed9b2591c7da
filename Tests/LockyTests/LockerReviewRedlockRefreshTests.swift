import Locky
import LockyTestSupport
import Testing

/// The locker API's unconditional refresh on Redlock: it refreshes the lock a quorum holds,
/// never keys a minority of nodes hold for someone else (left by split votes or crashes).
@Suite("Locker review: Redlock unconditional refresh")
struct LockerReviewRedlockRefreshTests {
    /// Two owners each hold one node, nobody a quorum: the resource is free (as `holder(of:)`
    /// says), so a refresh does nothing. Before, each node refreshed its own key, two of three
    /// answered "refreshed", and without a locker TTL both minority keys lost their expiry:
    /// each node's vote was then gone for good.
    @Test func aResourceNoQuorumHoldsIsNotRefreshed() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            _ = try servers[0].cli("SET", "locky:{r}", "X", "PX", "60000")
            _ = try servers[1].cli("SET", "locky:{r}", "Y", "PX", "60000")
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(2)))
            #expect(try await client.holder(of: "r") == nil)
            #expect(try await client.refresh("r") == .notLocked)
            for server in servers[..<2] {
                let left = Int(try server.cli("PTTL", "locky:{r}")) ?? -1
                #expect(left > 0 && left <= 60_000, "the minority key lost its expiry: \(left)")
            }
            await client.close()
        }
    }

    /// A quorum holds it for X; node 2 has a leftover key of Z. The refresh resets X's keys
    /// (here: removes their expiry, lockerTTL nil) and leaves Z's alone.
    @Test func onlyTheQuorumHoldersKeysAreRefreshed() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            for server in servers[..<2] { _ = try server.cli("SET", "locky:{r}", "X", "PX", "60000") }
            _ = try servers[2].cli("SET", "locky:{r}", "Z", "PX", "60000")
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(2)))
            #expect(try await client.refresh("r") == .refreshed)
            for server in servers[..<2] { #expect(try server.cli("PTTL", "locky:{r}") == "-1") }
            let left = Int(try servers[2].cli("PTTL", "locky:{r}")) ?? -1
            #expect(left > 0 && left <= 60_000, "the minority key of another owner lost its expiry: \(left)")
            #expect(try await client.refresh(["r", "free"]).map(\.outcome) == [.refreshed, .notLocked])
            await client.close()
        }
    }
}
