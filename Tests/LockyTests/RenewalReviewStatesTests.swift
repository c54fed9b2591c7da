import Locky
import LockyTestSupport
import Testing

/// Review of the lease state stream with many consumers and a real server that goes away: no
/// defect found here; these guard what the README promises.
@Suite("Renewal review: state streams")
struct RenewalReviewStatesTests {
    /// Five consumers of one lease's states while Redis is killed and restarted empty: each
    /// sees the same states (renewals, then failed renewals, then the loss, last) and each
    /// stream ends. The restarted server lost the key, so the loss is `notOwner` when the
    /// client reconnects within the validity, `expired` otherwise; never silence.
    @Test func everyConsumerSeesTheSameStatesAcrossARedisRestart() async throws {
        try await withBackend(.redis, clock: .system) { env throws in
            let server = try #require(env.server)
            try await onBackendExecutor(env) {
                try await env.withRunningClient { client in
                    let lease = try await client.acquire("r", ttl: .seconds(3), retry: .never)
                    let initial = lease.validUntil
                    let streams = (0..<5).map { _ in lease.states() }
                    try client.startRenewing(lease)
                    let seen = try await withThrowingTaskGroup(of: [LeaseState].self) { group in
                        for stream in streams {
                            group.addTask {
                                var states: [LeaseState] = []
                                for await state in stream { states.append(state) }
                                return states
                            }
                        }
                        // The first renewal comes at about 1 s and moves the validity on.
                        let renewed = try await eventually(within: .seconds(5)) {
                            lease.validUntil > initial + .milliseconds(500)
                        }
                        try #require(renewed)
                        server.kill()
                        try await Task.sleep(for: .milliseconds(1500))
                        try await server.restart()
                        let ended = try await eventually(within: .seconds(10)) { lease.lossReason != nil }
                        try #require(ended, "the lease was never lost after the restart")
                        // Each stream ends with the loss (a stream that did not would hang the test here).
                        var all: [[LeaseState]] = []
                        for try await states in group { all.append(states) }
                        return all
                    }
                    #expect(seen.count == 5)
                    let first = seen.first ?? []
                    for states in seen { #expect(states == first, "consumers disagree: \(seen)") }
                    #expect(first.contains { if case .renewed = $0 { return true } else { return false } }, "\(first)")
                    #expect(
                        first.contains { if case .renewalFailed = $0 { return true } else { return false } }, "\(first)")
                    let loss = lease.lossReason
                    #expect(loss == .notOwner(holder: nil) || loss == .expired, "lost as \(String(describing: loss))")
                    #expect(first.last == loss.map { .lost($0) }, "\(first)")
                    #expect(client.renewingCount == 0)
                    _ = try await client.release(lease)
                }
            }
        }
    }

    /// Leases of very different TTLs (150 ms, 1 s, 6 s) in one loop on Redis: each stays held
    /// and valid for 2.5 s, and the short one's frequent ticks do not drag the long ones into
    /// renewals much more often than their own third of the TTL (riding along at most a sixth
    /// of their TTL early).
    @Test func leasesOfDifferentTTLsShareOneLoop() async throws {
        try await withBackend(.redis, clock: .system) { env throws in
            try await onBackendExecutor(env) {
                try await env.withRunningClient { client in
                    let ttls: [Duration] = [.milliseconds(150), .seconds(1), .seconds(6)]
                    var leases: [Lease] = []
                    for (index, ttl) in ttls.enumerated() {
                        let lease = try await client.acquire("ttl-\(index)", ttl: ttl, retry: .never)
                        try client.startRenewing(lease)
                        leases.append(lease)
                    }
                    let recorders = leases.map { RenewalTests.StateRecorder($0) }
                    defer { for recorder in recorders { recorder.stop() } }
                    try await Task.sleep(for: .milliseconds(2500))
                    for (index, lease) in leases.enumerated() {
                        #expect(lease.isValid, "TTL \(ttls[index]): \(recorders[index].all)")
                        #expect(try await env.storedOwner("ttl-\(index)") == lease.owner)
                    }
                    // 1 s: due every 333 ms, at most every 167 ms riding along. 6 s: at most every 1 s.
                    #expect(recorders[1].renewals <= 15, "\(recorders[1].renewals) renewals of the 1 s lease")
                    #expect(recorders[2].renewals <= 3, "\(recorders[2].renewals) renewals of the 6 s lease")
                    #expect(recorders[0].renewals >= 8, "\(recorders[0].renewals) renewals of the 150 ms lease")
                    for lease in leases { _ = try await client.release(lease) }
                }
            }
        }
    }
}
