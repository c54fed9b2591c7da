import Locky
import LockyTestSupport
import Testing

/// What a busy answer costs on Redlock when a node is stopped.
@Suite("Redlock give-backs")
struct RedlockGiveBackTests {
    /// A busy attempt gives back what it may have taken, also on the stopped node; that
    /// give-back was waited for, queued behind the acquire the node never answered: busy
    /// took 0.21 s with a 100 ms node timeout. Now the stopped node costs one node timeout.
    @Test("1 of 3 nodes stopped: a busy answer costs one node timeout, not two")
    func busyCostsOneNodeTimeout() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let configuration = try RedlockFaultTests.configuration(servers, retry: .never)
            let holder = try LockClient(configuration: configuration)
            let client = try LockClient(configuration: configuration)
            let lease = try await holder.tryAcquire("r", ttl: .seconds(30))
            #expect(try await holder.lock("k", locker: "holder") == .acquired(fencingToken: 1))
            // Connected to every node before one stops.
            _ = await expectLockError(.busy) { _ = try await client.tryAcquire("r", ttl: .seconds(5)) }
            servers[2].pause()
            var slowest = Duration.zero
            for _ in 0..<3 {
                var started = ContinuousClock.now
                _ = await expectLockError(.busy) { _ = try await client.tryAcquire("r", ttl: .seconds(5)) }
                slowest = max(slowest, ContinuousClock.now - started)
                started = ContinuousClock.now
                #expect(try await client.lock("k", locker: "other") != .acquired(fencingToken: 2))
                slowest = max(slowest, ContinuousClock.now - started)
            }
            servers[2].resume()
            #expect(slowest < .milliseconds(170), "slowest busy answer: \(slowest)")
            // The give-backs still land on the resumed node, behind the acquires: nothing left of "other".
            let keyspace = try LockKeyspace()
            #expect(try await eventually { try servers[2].cli("GET", keyspace.lockKey("k")).contains("holder") })
            _ = try await holder.release(lease)
            _ = try await holder.unlock("k", locker: "holder")
            #expect(try await eventually { try servers.allSatisfy { try RedlockFaultTests.lockKeys(on: $0).isEmpty } })
            await client.close()
            await holder.close()
        }
    }
}
