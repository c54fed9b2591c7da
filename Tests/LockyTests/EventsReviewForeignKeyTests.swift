import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Testing

/// `expired` events of keys under the prefix that Locky did not write: another library's lock
/// whose name is not UTF-8.
@Suite("Events review: foreign keys")
struct EventsReviewForeignKeyTests {
    /// Another application's lock key `locky:{a\xFF}` (not UTF-8, so no resource of Locky's:
    /// `heldLocks` skips it) expires while Locky holds `a\u{FFFD}`. Before, the notification
    /// was decoded with the invalid byte replaced: the stream said `expired a\u{FFFD}` of a lock
    /// that was still held, and the watcher forgot that lock's deadline, so its own expiry came
    /// only when Redis got to the key (here, with active expiry off: never, within 3 s).
    @Test func aNonUTF8KeyIsNoExpiryOfTheResourceItsBytesResemble() async throws {
        try await ExpiryWatcherFaultTests.withLazyServer { setup throws in
            let held = "a\u{FFFD}"
            let foreign: [UInt8] = Array("locky:{a".utf8) + [0xFF] + Array("}".utf8)
            let recording = try await LockEventTests.recording(setup.client) { recording in
                let sent = ContinuousClock.now
                _ = try await setup.client.tryAcquire(held, ttl: .milliseconds(1500))
                #expect(try await recording.wait { $0.contains("locked \(held) by lease for 1500 ms") })
                _ = try await setup.raw.execute(RESPCommand("SET", foreign, "other-library", "PX", 50))
                try await Task.sleep(for: .milliseconds(100))
                // Any access expires the foreign key now (and notifies).
                #expect(try await setup.raw.execute(RESPCommand("EXISTS", foreign)).decode(as: Int.self) == 0)
                _ = try await setup.client.lock("marker", locker: "m")
                #expect(try await recording.wait { $0.contains("locked marker by m") })
                #expect(!recording.descriptions.contains("expired \(held)"), "\(recording.descriptions)")
                // The real expiry of the held lock: the watcher looks at its deadline.
                let came = try await recording.wait(within: .seconds(4)) { $0.contains("expired \(held)") }
                #expect(came, "\(recording.descriptions)")
                if let lag = ExpiryWatcherFaultTests.expiryLag(of: held, in: recording, after: sent + .milliseconds(1500)) {
                    #expect(lag < .milliseconds(500), "the expiry came \(lag) after the deadline")
                }
            }
            #expect(recording.descriptions.filter { $0.hasPrefix("expired") } == ["expired \(held)"], "\(recording.descriptions)")
        }
    }
}
