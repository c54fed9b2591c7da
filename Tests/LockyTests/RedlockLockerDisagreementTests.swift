import Locky
import LockyRedis
import LockyTestSupport
import Testing

/// The locker API on Redlock nodes that disagree: what each call reports, and what it leaves on
/// the minority nodes.
@Suite("Redlock locker API with disagreeing nodes")
struct RedlockLockerDisagreementTests {
    /// One node held by another: the quorum takes it (acquired), the minority keeps its holder
    /// with its TTL, and its fence counter is raised to the token handed out.
    @Test func lockWithAMinorityHeldByAnother() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(2)))
            _ = try servers[0].cli("SET", "locky:{r}", "X", "PX", "60000")
            _ = try servers[1].cli("SET", "locky:{r}:fence", "4")
            let before = try #require(Int(try servers[0].cli("PTTL", "locky:{r}").filter { !$0.isWhitespace }))
            #expect(try await client.lock("r", locker: "me") == .acquired(fencingToken: 5))
            #expect(try RedlockFaultTests.lockerKeys(["r"], on: servers) == [["X"], ["me"], ["me"]])
            let after = try #require(Int(try servers[0].cli("PTTL", "locky:{r}").filter { !$0.isWhitespace }))
            #expect(after <= before)
            #expect(try await eventually { try servers.allSatisfy { try $0.cli("GET", "locky:{r}:fence").hasPrefix("5") } })
            await client.close()
        }
    }

    /// The locker holds a minority key (left by a split vote) while another holds the quorum: an
    /// owner-checked unlock answered `unlocked` (the CLI printed `unlocked`, the metrics counted a
    /// release) although the resource is another's. It is held by another.
    @Test func ownerCheckedUnlockOfAMinorityKeyReportsTheQuorumHolder() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(2)))
            _ = try servers[0].cli("SET", "locky:{r}", "me")
            _ = try servers[1].cli("SET", "locky:{r}", "X")
            _ = try servers[2].cli("SET", "locky:{r}", "X")
            guard case .heldByAnother(let holder) = try await client.unlock("r", locker: "me") else {
                Issue.record("the quorum holder was not reported")
                return
            }
            #expect(holder.owner == "X")
            #expect(try RedlockFaultTests.lockerKeys(["r"], on: servers)[1...] == [["X"], ["X"]])
            #expect(try await client.locker(of: "r") == "X")

            // A lease whose keys another took on a quorum: not `released`.
            let lease = try await client.tryAcquire("s", ttl: .seconds(30))
            _ = try servers[1].cli("SET", "locky:{s}", "X")
            _ = try servers[2].cli("SET", "locky:{s}", "X")
            #expect(try await client.release(lease) == .alreadyExpired)
            await client.close()
        }
    }

    /// The unlock may not answer before the nodes not heard from could still name another
    /// holder: with the third node slow, `[unlocked, held by X]` is not final.
    @Test func unlockWaitsForANodeThatCouldMakeAnotherHoldersQuorum() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(2)))
            // Connected, every node's run_id known (early answers need it).
            #expect(try await client.unlock("warm") == .notLocked)
            _ = try servers[0].cli("SET", "locky:{r}", "me")
            _ = try servers[1].cli("SET", "locky:{r}", "X")
            _ = try servers[2].cli("SET", "locky:{r}", "X")
            servers[2].pause()
            async let outcome = client.unlock("r", locker: "me")
            try await Task.sleep(for: .milliseconds(300))
            servers[2].resume()
            guard case .heldByAnother(let holder) = try await outcome else {
                Issue.record("answered before the slow node could name the quorum holder")
                return
            }
            #expect(holder.owner == "X")
            await client.close()
        }
    }

    /// Two nodes held by two others: busy, and the third node's grant is given back.
    @Test func lockBusyOnASplitGivesBackTheMinorityGrant() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(2)))
            _ = try servers[0].cli("SET", "locky:{r}", "X")
            _ = try servers[1].cli("SET", "locky:{r}", "Y")
            guard case .busy(let holder) = try await client.lock("r", locker: "me") else {
                Issue.record("not busy")
                return
            }
            #expect(["X", "Y"].contains(holder.owner))
            #expect(try await eventually { try RedlockFaultTests.lockerKeys(["r"], on: servers) == [["X"], ["Y"], [""]] })
            await client.close()
        }
    }
}
