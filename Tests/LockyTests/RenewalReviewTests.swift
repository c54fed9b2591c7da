import Locky
import LockyTestSupport
import Testing

/// Review of the renewal loop's bounds: a maximum hold time ends its lease on time, with its own
/// reason, whatever the backend does meanwhile, and a lease at its last allowed renewal ends at
/// its own renewal time, not earlier with the leases it shares the loop with.
@Suite("Renewal review: bounds")
struct RenewalReviewTests {
    /// Redis stops answering (SIGSTOP) just before the lease's renewal: the hold time (1.5 s)
    /// passes while that renewal hangs, and must end the lease then, as
    /// `maximumHoldTimeReached`. Before, it ended only when the renewal gave up at the lease's
    /// validity (about 2.97 s), as `expired`, so a `withLock` body ran on 1.5 s past its bound.
    /// The renewal's late answer must not give the ended lease its validity back either.
    @Test func aHoldTimeEndsTheLeaseWhileItsRenewalHangs() async throws {
        try await withBackend(.redis, clock: .system) { env throws in
            let server = try #require(env.server)
            try await env.withRunningClient { client in
                let lease = try await client.acquire("r", ttl: .seconds(3), retry: .never)
                let registered = ContinuousClock.now
                try client.startRenewing(lease, maximumHoldTime: .milliseconds(1500))
                // The first renewal (at about 1 s) reaches a server that does not answer.
                server.pause()
                let ended = try await eventually(within: .seconds(6)) { lease.lossReason != nil }
                let endedAt = ContinuousClock.now
                server.resume()
                #expect(ended)
                #expect(lease.lossReason == .maximumHoldTimeReached, "ended as \(String(describing: lease.lossReason))")
                let late = endedAt - (registered + .milliseconds(1500))
                #expect(late < .milliseconds(600), "ended \(late) after its maximum hold time")
                // The hanging renewal is answered now; the lease stays ended.
                try await Task.sleep(for: .seconds(1))
                #expect(lease.remaining == .zero, "an ended lease claims \(lease.remaining) again")
                #expect(!lease.isValid)
                #expect(client.renewingCount == 0)
                _ = try await client.release(lease)
            }
        }
    }

    /// The same between failed renewals (Redis unreachable, each renewal failing at once): a
    /// retry planned past the hold deadline must not postpone the end. Manual clock: TTL 6 s,
    /// first renewal at 1.94 s fails, next retry planned 250 ms later; the hold ends at 2.1 s.
    /// Before, nothing happened at 2.1 s: the lease ended only at the retry.
    @Test func aHoldTimeEndsTheLeaseBetweenFailedRenewals() async throws {
        try await withBackend(.memory) { env throws in
            let clock = try #require(env.manualClock)
            try await env.withRunningClient { client in
                let lease = try await client.acquire("r", ttl: .seconds(6), retry: .never)
                let recorder = RenewalTests.StateRecorder(lease)
                defer { recorder.stop() }
                env.backend.renewalsLoseTheirAnswer(true)
                try client.startRenewing(lease, maximumHoldTime: .milliseconds(2100))
                clock.advance(by: .seconds(2))
                let failed = try await eventually(within: .seconds(5)) {
                    recorder.all.contains { if case .renewalFailed = $0 { return true } else { return false } }
                }
                try #require(failed, "the renewal did not fail: \(recorder.all)")
                clock.advance(by: .milliseconds(100))
                let ended = try await eventually(within: .seconds(2)) { lease.lossReason != nil }
                #expect(ended, "the lease outlived its maximum hold time: \(recorder.all)")
                #expect(lease.lossReason == .maximumHoldTimeReached)
                env.backend.renewalsLoseTheirAnswer(false)
                _ = try await client.release(lease)
            }
        }
    }

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

    /// An extend answered after its lease ended (here at its hold time) confirms nothing for
    /// the lease: a lost lease never gains validity back. Before, the late answer set it to the
    /// extend's 10 s, so `remaining` and `validUntil` of a lost lease claimed 10 s again.
    @Test(arguments: [BackendKind.memory, .redis])
    func anExtendAnsweredAfterTheLeaseEndedGivesItNoValidity(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            try await env.withRunningClient { client in
                let lease = try await client.acquire("r", ttl: .seconds(3), retry: .never)
                try client.startRenewing(lease, maximumHoldTime: .milliseconds(200))
                // The extend runs on the backend; its answer comes once the hold time ended the lease.
                env.backend.afterExtend {
                    _ = try? await eventually(within: .seconds(5)) { lease.lossReason != nil }
                }
                let error = await expectLockError(.timedOut) { try await client.extend(lease, toExpireIn: .seconds(10)) }
                env.backend.afterExtend(nil)
                #expect(error != nil)
                #expect(lease.lossReason == .maximumHoldTimeReached)
                #expect(lease.remaining == .zero, "a lost lease claims \(lease.remaining) again")
                #expect(lease.validUntil <= ContinuousClock.now)
                _ = try await client.release(lease)
            }
        }
    }

    /// A lease released by hand shortly before its hold time (or its last renewal) stays
    /// released, not lost: the loop keeps it until its planned time, and at the hold deadline
    /// took it for one that reached its bound. Before: `lossReason` became
    /// `maximumHoldTimeReached` (resp. `maximumRenewalsReached`) after a clean release.
    @Test(arguments: [BackendKind.memory, .redis])
    func aLeaseReleasedBeforeItsBoundIsNotMarkedLost(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            try await onBackendExecutor(env) {
                try await env.withRunningClient { client in
                    let held = try await client.acquire("held", ttl: .seconds(6), retry: .never)
                    try client.startRenewing(held, maximumHoldTime: .milliseconds(600))
                    let counted = try await client.acquire("counted", ttl: .milliseconds(900), retry: .never)
                    try client.startRenewing(counted, maximumRenewals: 0)
                    try await Task.sleep(for: .milliseconds(150))
                    #expect(try await client.release(held) == .released)
                    #expect(try await client.release(counted) == .released)
                    // Past the hold deadline (600 ms) and the first renewal time (about 300 ms).
                    let dropped = try await eventually(within: .seconds(3)) { client.renewingCount == 0 }
                    #expect(dropped)
                    #expect(held.lossReason == nil, "released, then lost as \(String(describing: held.lossReason))")
                    #expect(counted.lossReason == nil, "released, then lost as \(String(describing: counted.lossReason))")
                }
            }
        }
    }

    /// A lease that its bound ended (its hold time here; its renewals, or a stopped loop, the
    /// same) still holds its key until the TTL runs out. An extend of it afterwards must not
    /// keep the lock: nothing renews or releases such a lease. Before, the extend was sent, the
    /// server extended the key to 10 s, and the call threw `timedOut` ("use a longer TTL"), so
    /// the caller took the lock for lost while it was held 10 s more. Now it fails with
    /// `alreadyExpired` and sends nothing.
    @Test(arguments: BackendKind.allCases)
    func anExtendOfALeaseItsBoundEndedIsRefused(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            try await onBackendExecutor(env) {
                try await env.withRunningClient { client in
                    let lease = try await client.acquire("r", ttl: .seconds(3), retry: .never)
                    try client.startRenewing(lease, maximumHoldTime: .milliseconds(200))
                    let ended = try await eventually(within: .seconds(3)) { lease.lossReason != nil }
                    try #require(ended)
                    #expect(lease.lossReason == .maximumHoldTimeReached)
                    let calls = env.backend.calls
                    let error = await expectLockError(.alreadyExpired) {
                        try await client.extend(lease, toExpireIn: .seconds(10))
                    }
                    #expect(error?.message.contains("ended") == true, "\(String(describing: error))")
                    #expect(env.backend.calls == calls, "the extend was sent")
                    let expiry = try await env.expiry("r")
                    #expect((expiry.ms ?? 0) <= 3000, "the lock now expires in \(expiry)")
                    _ = try await client.release(lease)
                }
            }
        }
    }
}
