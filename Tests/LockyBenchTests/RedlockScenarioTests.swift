import Foundation
import LockyTestSupport
import Testing

@testable import LockyBench

/// `redlock` counts every lock key left on any node, however early in the run, then clears them.
@Suite("Redlock scenario", .serialized)
struct RedlockScenarioTests {
    @Test func everyCycleHasAResourceOfItsOwn() {
        // Orphans of one shared resource would collapse into one key (and be counted once).
        let names = CycleNames()
        let drawn = (0..<1000).map { names.next($0.isMultiple(of: 2) ? "redlock-5" : "redis") }
        #expect(Set(drawn).count == 1000)
    }

    @Test func theLockTTLOutlastsTheRun() {
        // A lock key left by the first cycle must still be there at the scan, after the whole run.
        #expect(RedlockScenario.lockTTL >= .seconds(300))
    }

    @Test func aLockKeyLeftOnOneNodeIsCountedThenDeleted() async throws {
        let servers = try await RedisServer.startMany(5)
        do {
            try await orphanIsCountedThenDeleted(servers)
        } catch {
            for server in servers { await server.stop() }
            throw error
        }
        for server in servers { await server.stop() }
    }

    private func orphanIsCountedThenDeleted(_ servers: [RedisServer]) async throws {
        // As an orphan of the run's first cycle would be: on one node only, with the run's lock TTL.
        let ttl = String(RedlockScenario.lockTTL.components.seconds * 1000)
        try servers[3].cli("SET", "locky:bench:{redlock-5-1}", "someone-else", "PX", ttl)
        let run = try await BenchRun.run(
            [
                "redlock", "--urls", servers.map(\.url).joined(separator: ","), "--cycles", "100", "--rounds", "1",
                "--json",
            ], limit: .seconds(120))
        #expect(!run.timedOut)
        #expect(run.status != 0, "orphans fail the run: \(run.stdout)")
        #expect(try run.number("orphaned_keys") ?? 0 >= 1, "\(run.stdout) \(run.stderr)")
        for (index, server) in servers.enumerated() {
            #expect(try server.cli("--scan", "--pattern", "locky:bench:*") == "", "node \(index) still has keys")
        }
    }
}
