import Locky
import Testing

/// The expiry watcher with a thousand locks on a server whose keys expire only when touched:
/// every `expired` event comes from the watcher's look at the lock's deadline.
@Suite("Events review: many locks")
struct EventsReviewManyKeysTests {
    /// 1,000 locks with deadlines spread over a second: each is reported once, none before its
    /// deadline, and (a generous bound for a loaded machine) all within 250 ms of it; Redis on
    /// its own would report none of them here.
    @Test func aThousandExpiriesAreEachReportedOnceAndOnTime() async throws {
        try await ExpiryWatcherFaultTests.withLazyServer { setup throws in
            let count = 1_000
            let deadlines = Shared<[String: ContinuousClock.Instant]>([:])
            let recording = try await LockEventTests.recording(setup.client) { recording in
                for index in 0..<count {
                    let ttl = Duration.milliseconds(2_000 + (index * 7) % 1_000)
                    let sent = ContinuousClock.now
                    _ = try await setup.client.tryAcquire("many-\(index)", ttl: ttl)
                    deadlines.update { $0["many-\(index)"] = sent + ttl }
                }
                let complete = try await recording.wait(within: .seconds(10)) { descriptions in
                    descriptions.count { $0.hasPrefix("expired") } >= count
                }
                #expect(complete, "saw \(recording.descriptions.count { $0.hasPrefix("expired") }) of \(count)")
                // Anything reported twice would come soon after.
                try await Task.sleep(for: .milliseconds(200))
            }
            var seen: [String: Int] = [:]
            var lags: [Double] = []
            for (event, at) in recording.events.value {
                guard case .expired(let resource) = event else { continue }
                seen[resource, default: 0] += 1
                if let deadline = deadlines.value[resource] { lags.append((at - deadline).milliseconds) }
            }
            #expect(seen.count == count)
            #expect(seen.values.allSatisfy { $0 == 1 }, "reported more than once: \(seen.filter { $0.value > 1 }.count)")
            let p50 = percentile(lags, 0.5)
            let p99 = percentile(lags, 0.99)
            #expect((lags.min() ?? 0) >= -5, "an expiry was reported \(-(lags.min() ?? 0)) ms before its deadline")
            #expect(p99 < 250, "expiry lag p50 \(p50) ms, p99 \(p99) ms, max \(lags.max() ?? 0) ms")
        }
    }
}
