import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Synchronization
import Testing

/// The expiry watcher when its look at a lock and the lock's events cross: the answer to a look
/// can be older than an event that arrives while the look is on its way back.
@Suite("Expiry watcher ordering")
struct ExpiryWatcherOrderTests {
    /// The watcher looks at `r` at its first holder's deadline; that holder has lengthened its
    /// TTL to 10 s, so the answer says "held, 10 s left". While the answer is on its way back,
    /// the holder releases `r` and another takes it for 300 ms: the events tell the watcher of
    /// the new deadline. The late answer must not replace it. Before, it did: the watcher
    /// looked again only 10 s later, and the new lock's expiry came whenever Redis got to the
    /// key (on this server, whose keys expire only when accessed: never). Memory, on a clock
    /// that cannot arm its expiry timer, leaves the expiry to the watcher alike.
    @Test(arguments: [BackendKind.redis, .memory])
    func aLateAnswerDoesNotHideANewerDeadline(kind: BackendKind) async throws {
        try await ExpiryWatcherFaultTests.withLazyStore(kind) { backend, client throws in
            let answered = Gate()
            let released = Gate()
            let hooked = Atomic<Bool>(false)
            let newDeadline = Shared<ContinuousClock.Instant?>(nil)
            let recording = try await LockEventTests.recording(client) { recording in
                let first = try await client.tryAcquire("r", ttl: .milliseconds(200))
                try await client.extend(first, toExpireIn: .seconds(10))
                backend.afterHolders { resources in
                    guard resources.contains("r"), !hooked.exchange(true, ordering: .relaxed) else { return }
                    answered.open()
                    try? await released.wait()
                }
                try await within(.seconds(3), "the look at the first deadline") { try await answered.wait() }
                #expect(try await client.release(first) == .released)
                let sent = ContinuousClock.now
                _ = try await client.tryAcquire("r", ttl: .milliseconds(300), label: "second")
                newDeadline.update { $0 = sent + .milliseconds(300) }
                let relocked = try await recording.wait { $0.contains("locked r by second for 300 ms") }
                #expect(relocked, "\(recording.descriptions)")
                released.open()
                let expired = try await recording.wait(within: .seconds(3)) { $0.contains("expired r") }
                #expect(expired, "the second lock's expiry was not reported: \(recording.descriptions)")
            }
            backend.afterHolders(nil)
            if let deadline = newDeadline.value,
                let lag = ExpiryWatcherFaultTests.expiryLag(of: "r", in: recording, after: deadline)
            {
                #expect(lag < .milliseconds(500), "the expiry came \(lag) after the deadline")
            }
        }
    }
}
