import Locky
import Testing

/// ``ManualLockClock`` is a monotonic clock: it never goes back.
@Suite("Memory review: manual clock")
struct MemoryReviewClockTests {
    /// `advance(by:)` took a negative duration and moved time back: a lock that had expired
    /// (1 s TTL, clock 2 s on) was live again with "1.0 seconds left", which no Redis key and no
    /// `ContinuousClock` can do. Now a negative duration changes nothing (no trap: bad input
    /// never crashes).
    @Test func advancingByANegativeDurationChangesNothing() async throws {
        let clock = ManualLockClock()
        let backend = InMemoryLockBackend(clock: clock)
        _ = try await backend.acquire(["r"], owner: "a", ttl: .seconds(1))
        clock.advance(by: .seconds(2))
        let now = clock.now
        clock.advance(by: .seconds(-2))
        #expect(clock.now == now)
        #expect(try await backend.holders(["r"])[0] == nil, "the expired lock stays expired")
    }

    /// A zero step is fine, and time moved forward stays where it went.
    @Test func advancingByZeroChangesNothing() async throws {
        let clock = ManualLockClock()
        let backend = InMemoryLockBackend(clock: clock)
        _ = try await backend.acquire(["r"], owner: "a", ttl: .seconds(1))
        clock.advance(by: .seconds(1))
        clock.advance(by: .zero)
        #expect(try await backend.holders(["r"])[0]?.remaining == .zero)
        clock.advance(by: .nanoseconds(1))
        #expect(try await backend.holders(["r"])[0] == nil)
    }
}
