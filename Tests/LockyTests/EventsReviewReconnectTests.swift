import Locky
import LockyRESP
import LockyRedis
import Testing

/// The expiry watcher after the event subscription's connection is lost and restored.
@Suite("Events review: reconnect")
struct EventsReviewReconnectTests {
    /// A lock the watcher never saw taken (another library's, no `locked` event) appears after
    /// the stream started; the subscriber's connection is killed. The stream gets one `gap`,
    /// the watcher lists the locks again and looks at that lock at its deadline: the `expired`
    /// event comes on time on a server whose keys expire only when touched.
    @Test func afterAGapTheWatcherLearnsLocksItNeverSawTaken() async throws {
        try await ExpiryWatcherFaultTests.withLazyServer { setup throws in
            let recording = try await LockEventTests.recording(setup.client) { recording in
                _ = try await setup.client.lock("marker", locker: "m")
                #expect(try await recording.wait { $0.contains("locked marker by m") })
                let sent = ContinuousClock.now
                _ = try await setup.raw.execute(RESPCommand("SET", "locky:{foreign}", "other-library", "PX", 1_000))
                let killed = try await setup.raw.execute(RESPCommand("CLIENT", "KILL", "TYPE", "pubsub")).decode(as: Int.self)
                #expect(killed >= 1)
                #expect(try await recording.wait { $0.contains("gap") }, "\(recording.descriptions)")
                let came = try await recording.wait(within: .seconds(4)) { $0.contains("expired foreign") }
                #expect(came, "\(recording.descriptions)")
                if let lag = ExpiryWatcherFaultTests.expiryLag(of: "foreign", in: recording, after: sent + .seconds(1)) {
                    #expect(lag < .milliseconds(300), "the expiry came \(lag) after the deadline")
                }
                // A second gap would come soon after.
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(recording.descriptions.filter { $0 == "gap" }.count == 1, "\(recording.descriptions)")
        }
    }
}
