import Locky
import LockyTestSupport
import Testing

/// The merged event stream of Redlock while a node restarts: what a user watching it sees.
@Suite("Redlock events under node faults", .timeLimit(.minutes(1)))
struct RedlockEventFaultTests {
    /// One node restarts (empty): the stream says so with a gap; a lock taken afterwards is
    /// reported `locked` once and `expired` once, soon after its TTL (not once per node); a key
    /// that expires on one node only (no quorum ever held it) is not reported.
    @Test func aNodeRestartGivesAGapAndEachChangeOnce() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers))
            let recording = try await LockEventTests.recording(client) { recording in
                try await servers[0].restart()
                let gap = try await recording.wait(within: .seconds(10)) { $0.contains("gap") }
                #expect(gap, "no gap after the restart: \(recording.descriptions)")
                // Node 0 is subscribed again (and has its keyspace notifications back) after its gap.
                try await Task.sleep(for: .milliseconds(300))
                let taken = ContinuousClock.now
                _ = try await client.tryAcquire("e", ttl: .milliseconds(300))
                let expired = try await recording.wait(within: .seconds(3)) { $0.contains("expired e") }
                let seen = ContinuousClock.now - taken
                #expect(expired, "\(recording.descriptions)")
                #expect(seen < .milliseconds(800), "expired seen \(seen) after the lock was taken with a 300 ms TTL")
                _ = try servers[1].cli("SET", "locky:{m}", "minority", "PX", "100")
                // The other nodes' late reports, and the minority key's expiry.
                try await Task.sleep(for: .milliseconds(700))
            }
            let descriptions = recording.descriptions.filter { !$0.hasPrefix("error") }
            let locked = descriptions.filter { $0.hasPrefix("locked e") }.count
            let expired = descriptions.filter { $0 == "expired e" }.count
            #expect(locked == 1 && expired == 1, "\(descriptions)")
            #expect(!descriptions.contains("expired m"), "\(descriptions)")
            await client.close()
        }
    }
}
