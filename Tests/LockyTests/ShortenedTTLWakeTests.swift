import Locky
import LockyTestSupport
import Testing

/// A waiting acquire learns that the holder's TTL was shortened. The first waiter of a busy
/// resource arms a timer at the holder's expiry (a crashed holder is noticed then); a holder
/// that shortened its TTL and then crashed used to leave it asleep until the old deadline (or
/// its timeout), although the lock was long gone. The scripts' `T` news (and, on the wake
/// channel of the first fair waiter, `S`) now wakes that waiter, which tries again and re-arms.
@Suite("Waiters learn a shortened TTL")
struct ShortenedTTLWakeTests {
    /// How the holder shortens its TTL.
    enum Change: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// A lease's extend to less than was left.
        case extend
        /// The locker API's refresh with a shorter TTL.
        case refresh
        /// Another locker's forced lock with a shorter TTL than the holder's: it took over
        /// without telling the waiter, whose timer stayed armed at the old holder's expiry.
        case forcedLock

        var testDescription: String { rawValue }
    }

    /// The TTL the holder shortens its 30 s lock to, and then never releases it.
    static let shortTTL: Duration = .milliseconds(300)

    /// The waiter gets the lock after the shortened expiry and long before the old one. The
    /// bound is tight because a waiter queued in Redis (one resource, Redis and memory) retries
    /// every 667 ms anyway to keep its place in the queue, and so learned the new TTL within
    /// that time even before: one that is not woken by the news gets the lock about 670 ms
    /// after the change. An unqueued waiter (two resources; Redlock) slept until its timeout.
    @Test(arguments: BackendKind.allCases, [1, 2].flatMap { count in Change.allCases.map { (count, $0) } })
    func theWaiterGetsTheLockAtTheShortenedExpiry(kind: BackendKind, shape: (count: Int, change: Change)) async throws {
        let (count, change) = shape
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let resources = Array(["r", "s"].prefix(count))
            var lease: Lease?
            switch change {
            case .extend, .forcedLock:
                lease = try await client.tryAcquire(resources, ttl: .seconds(30), label: "holder")
            case .refresh:
                let outcomes = try await env.backend.lock(resources, locker: "editor", ttl: .seconds(30), force: false)
                for outcome in outcomes {
                    guard case .acquired = outcome else { throw HarnessFailure("not acquired: \(outcomes)") }
                }
            }
            let before = env.backend.calls
            let waiter = Task(executorPreference: client.backend.preferredTaskExecutor) {
                let lease = try await client.acquire(resources, ttl: .seconds(10), label: "waiter", timeout: .seconds(5))
                return (lease: lease, at: ContinuousClock.now)
            }
            if count == 1, kind != .redlock {
                try await env.waitUntilQueued("r", 1)
            } else {
                let attempted = try await eventually(within: .seconds(5)) { env.backend.calls > before }
                try #require(attempted, "the waiter never tried to acquire")
            }
            // Let the busy reply reach the waiter and the waiter arm its timer at the old expiry.
            try await Task.sleep(for: .milliseconds(30))
            let changed = ContinuousClock.now
            switch change {
            case .extend:
                if let lease { try await client.extend(lease, toExpireIn: Self.shortTTL) }
            case .refresh:
                #expect(
                    try await env.backend.refresh(resources, locker: "editor", ttl: Self.shortTTL)
                        == Array(repeating: .refreshed, count: count))
            case .forcedLock:
                let outcomes = try await env.backend.lock(resources, locker: "thief", ttl: Self.shortTTL, force: true)
                for outcome in outcomes {
                    guard case .acquired = outcome else { throw HarnessFailure("not taken over: \(outcomes)") }
                }
            }
            let (acquired, at) = try await within(.seconds(8), "the waiter") { try await waiter.value }
            let latency = at - changed
            #expect(latency >= Self.shortTTL, "the waiter got the lock \(latency) after the change, before its expiry")
            #expect(latency < Self.shortTTL + .milliseconds(250), "the waiter got the lock \(latency) after the change")
            #expect(acquired.isValid)
            #expect(try await client.release(acquired) == .released)
        }
    }
}
