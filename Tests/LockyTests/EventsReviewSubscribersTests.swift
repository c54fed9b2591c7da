import Locky
import Testing

/// `expired` events with several watching clients (processes), each with its own expiry
/// watcher looking at the same locks.
@Suite("Events review: several watchers")
struct EventsReviewSubscribersTests {
    /// Three clients watch; locks taken by one of them expire, some after a re-lock that moved
    /// their deadline, some released before it. Every stream reports each expiry exactly once,
    /// and nothing for the released ones.
    @Test func eachStreamReportsEachExpiryOnce() async throws {
        try await withBackend(.redis, clock: .system) { env throws in
            let others = [
                try LockClient(configuration: try env.independentConfiguration()),
                try LockClient(configuration: try env.independentConfiguration()),
            ]
            let clients = [env.client] + others
            let recordings = [LockEventTests.Recording(), LockEventTests.Recording(), LockEventTests.Recording()]
            let stop = Gate()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (client, recording) in zip(clients, recordings) {
                    group.addTask { try await LockEventTests.watch(client, into: recording, until: stop) }
                }
                for recording in recordings { try await within(.seconds(5), "subscribing") { try await recording.ready.wait() } }
                let client = env.client
                for index in 0..<10 {
                    _ = try await env.backend.lock(
                        ["e-\(index)"], locker: "x", ttl: .milliseconds(200 + 20 * index), force: false)
                }
                for index in 0..<5 {
                    // Re-locked by its locker with a longer TTL: one expiry, later.
                    _ = try await env.backend.lock(["e-\(index)"], locker: "x", ttl: .milliseconds(500), force: false)
                }
                let released = try await client.tryAcquire("released", ttl: .milliseconds(200))
                _ = try await client.release(released)
                for recording in recordings {
                    let complete = try await recording.wait { $0.count { $0.hasPrefix("expired") } >= 10 }
                    #expect(complete, "\(recording.descriptions)")
                }
                // Anything reported twice would come soon after.
                try await Task.sleep(for: .milliseconds(400))
                stop.open()
                try await group.waitForAll()
            }
            for recording in recordings {
                let expiries = recording.descriptions.filter { $0.hasPrefix("expired") }
                #expect(expiries.sorted() == (0..<10).map { "expired e-\($0)" }.sorted(), "\(recording.descriptions)")
            }
            for other in others { await other.close() }
        }
    }
}
