import Locky
import LockyTestSupport
import Testing

/// Review of the renewal loop's bounds: a lease at its last allowed renewal ends at its own
/// renewal time, not earlier with the leases it shares the loop with.
@Suite("Renewal review: bounds")
struct RenewalReviewTests {
    /// A lease allowed no more renewals ends at its renewal time (TTL 6 s: about 1.94 s), not a
    /// sixth of its TTL earlier because a short lease of the same loop (TTL 300 ms) was due:
    /// leases due soon ride along with due ones, but one that would only be ended must not.
    /// Before, it ended after about 1 s.
    @Test(arguments: [BackendKind.memory, .redis])
    func aLeaseAtItsLastRenewalEndsAtItsOwnTime(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            try await onBackendExecutor(env) {
                try await env.withRunningClient { client in
                    let short = try await client.acquire("short", ttl: .milliseconds(300), retry: .never)
                    try client.startRenewing(short)
                    let started = ContinuousClock.now
                    let bounded = try await client.acquire("bounded", ttl: .seconds(6), retry: .never)
                    try client.startRenewing(bounded, maximumRenewals: 0)
                    let ended = try await eventually(within: .seconds(6)) { bounded.lossReason != nil }
                    let elapsed = ContinuousClock.now - started
                    #expect(ended)
                    #expect(bounded.lossReason == .maximumRenewalsReached)
                    #expect(elapsed >= .milliseconds(1700), "ended after \(elapsed), its renewal time is about 1.94 s")
                    #expect(elapsed < .seconds(3), "ended after \(elapsed)")
                    #expect(short.lossReason == nil)
                    _ = try await client.release(short)
                    _ = try await client.release(bounded)
                }
            }
        }
    }
}
