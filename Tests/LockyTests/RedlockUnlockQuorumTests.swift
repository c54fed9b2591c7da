import Locky
import LockyRedis
import LockyTestSupport
import Testing

/// Unlock and release on Redlock need enough nodes to know the lock is gone.
@Suite("Redlock unlock quorum")
struct RedlockUnlockQuorumTests {
    /// One node removed it while two were stopped, and the stopped two still held it, a
    /// quorum: `unlock` answered `unlocked` (the CLI exited 0) while `holder` named the locker.
    @Test("unlock with a majority of nodes stopped fails with every node's answer")
    func unlockNeedsTheSilentNodesToBeAMinority() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let configuration = try RedlockFaultTests.configuration(servers, retry: .never)
            let client = try LockClient(configuration: configuration)
            #expect(try await client.lock("r30", locker: "a") == .acquired(fencingToken: 1))
            #expect(try await client.lock("r31", locker: "a") == .acquired(fencingToken: 1))
            servers[1].pause()
            servers[2].pause()
            let error = await expectLockError(.quorumNotReached) { _ = try await client.unlock("r30") }
            #expect(error?.nodes.map(\.isGranted) == [true, false, false], "\(error?.nodes ?? [])")
            let owned = await expectLockError(.quorumNotReached) { _ = try await client.unlock("r31", locker: "a") }
            #expect(owned?.nodes.map(\.isGranted) == [true, false, false], "\(owned?.nodes ?? [])")
            servers[1].resume()
            servers[2].resume()
            // The unlocks queued on the stopped nodes land once they run again.
            #expect(try await eventually { try servers.allSatisfy { try RedlockFaultTests.lockKeys(on: $0).isEmpty } })

            // With one node stopped the silent node is a minority: unlocked.
            #expect(try await client.lock("r32", locker: "a") == .acquired(fencingToken: 1))
            servers[2].pause()
            #expect(try await client.unlock("r32", locker: "a") == .unlocked)
            servers[2].resume()
            await client.close()
        }
    }

    /// A lease release that reached one node of three must not answer `released`: it throws,
    /// and the lease is not marked released (a later release sends again).
    @Test("a lease release that reaches too few nodes throws")
    func releaseNeedsEnoughNodes() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, retry: .never))
            let lease = try await client.tryAcquire("job", ttl: .seconds(30))
            servers[0].pause()
            servers[2].pause()
            let error = await expectLockError(.quorumNotReached) { _ = try await client.release(lease) }
            #expect(error?.nodes.map(\.isGranted) == [false, true, false], "\(error?.nodes ?? [])")
            servers[0].resume()
            servers[2].resume()
            #expect(try await eventually { try servers.allSatisfy { try RedlockFaultTests.lockKeys(on: $0).isEmpty } })
            #expect(try await client.release(lease) != .alreadyReleased)
            await client.close()
        }
    }
}
