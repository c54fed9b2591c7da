import Locky
import LockyTestSupport
import NIOCore
import Testing

@testable import Locky

/// Fenced reads on Redlock when nodes hold different values written with one token: a holder
/// writes twice under one lease, and the two writes reach different majorities. The token
/// cannot tell which is newer; a value a quorum holds can (two quorums of one read share a
/// node), else the read is ambiguous and says so.
@Suite("Redlock fenced reads with equal tokens")
struct RedlockFencedTieTests {
    let three = RedlockTally(nodes: ["n1", "n2", "n3"])
    let down = LockError(.backendUnavailable, "connection refused")

    static func value(_ text: String, _ token: Int64) -> FencedValue {
        FencedValue(value: ByteBuffer(string: text), highestToken: token)
    }

    @Test func aValueAQuorumHoldsWinsATie() throws {
        let replies: [Result<FencedValue?, LockError>] = [
            .success(Self.value("v2", 7)), .success(Self.value("v2", 7)), .success(Self.value("v1", 7)),
        ]
        #expect(try three.fencedRead(replies) == .some(Self.value("v2", 7)))
        // Node order does not matter.
        #expect(try three.fencedRead(replies.reversed()) == .some(Self.value("v2", 7)))
        let claims: [Result<FencedReadOutcome, LockError>] = [
            .success(.read(Self.value("v2", 7))), .success(.read(Self.value("v2", 7))), .success(.read(Self.value("v1", 7))),
        ]
        #expect(try three.fencedClaim(claims) == .read(Self.value("v2", 7)))
    }

    @Test func aTieNoQuorumSettlesIsAnError() {
        let replies: [Result<FencedValue?, LockError>] = [
            .success(Self.value("v2", 7)), .success(Self.value("v1", 7)), .failure(down),
        ]
        let error = #expect(throws: LockError.self) { _ = try three.fencedRead(replies) }
        #expect(error?.code == .quorumNotReached)
        #expect(error?.message.contains("ambiguous") == true, "\(String(describing: error))")
        let claims: [Result<FencedReadOutcome, LockError>] = [
            .success(.read(Self.value("v1", 7))), .failure(down), .success(.read(Self.value("v2", 7))),
        ]
        let claimError = #expect(throws: LockError.self) { _ = try three.fencedClaim(claims) }
        #expect(claimError?.code == .quorumNotReached)
    }

    @Test func equalValuesOrAHigherTokenAreNoTie() throws {
        let same: [Result<FencedValue?, LockError>] = [
            .success(Self.value("v", 7)), .success(Self.value("v", 7)), .failure(down),
        ]
        #expect(try three.fencedRead(same) == .some(Self.value("v", 7)))
        let newer: [Result<FencedValue?, LockError>] = [
            .success(Self.value("v1", 7)), .success(Self.value("v3", 8)), .success(Self.value("v2", 7)),
        ]
        #expect(try three.fencedRead(newer) == .some(Self.value("v3", 8)))
        let empty: [Result<FencedValue?, LockError>] = [.success(nil), .success(nil), .failure(down)]
        #expect(try three.fencedRead(empty) == .some(nil))
        #expect(try three.fencedRead([.success(nil), .failure(down), .failure(down)]) == nil)
    }

    /// The tie from real servers: v1 then v2 with one token, v2 acknowledged by nodes 0 and 2
    /// while node 1 was down; node 1 comes back (persistent) with v1, node 2 goes down.
    /// Before: the read returned v1, the older write (the last node read won the tie). Now:
    /// an ambiguous-read error while only nodes 0 and 1 answer, v2 once all three do.
    @Test func twoWritesWithOneTokenOnDifferentMajorities() async throws {
        let servers = try await RedisServer.startMany(3, RedisServer.Options(persistence: true))
        do {
            try await Self.writeTwiceWithOneToken(servers)
        } catch {
            for server in servers { await server.stop() }
            throw error
        }
        for server in servers { await server.stop() }
    }

    private static func writeTwiceWithOneToken(_ servers: [RedisServer]) async throws {
        let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers))
        let lease = try await client.tryAcquire("doc", ttl: .seconds(30))
        #expect(try await client.fencedWrite("v1", to: "data", fencingToken: lease.fencingToken) == .accepted)
        servers[1].kill()
        #expect(try await client.fencedWrite("v2", to: "data", fencingToken: lease.fencingToken) == .accepted)
        try await servers[1].restart()
        servers[2].kill()
        let plain = await expectLockError(.quorumNotReached) { _ = try await client.fencedRead("data") }
        #expect(plain?.message.contains("ambiguous") == true, "\(String(describing: plain))")
        _ = await expectLockError(.quorumNotReached) {
            _ = try await client.fencedRead("data", fencingToken: lease.fencingToken)
        }
        try await servers[2].restart()
        let settled = try await eventually(within: .seconds(3)) {
            (try? await client.fencedRead("data"))??.string == "v2"
        }
        #expect(settled)
        #expect(
            try await client.fencedRead("data", fencingToken: lease.fencingToken) == .read(Self.value("v2", lease.fencingToken)))
        await client.close()
    }
}
