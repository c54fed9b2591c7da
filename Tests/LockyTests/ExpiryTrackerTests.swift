import Testing

@testable import Locky

/// The expiry watcher's bookkeeping: what it costs with many locks, and which deadlines it
/// looks at.
@Suite("Expiry tracker")
struct ExpiryTrackerTests {
    /// Every `locked` event and every renewed lock the watcher looks at notes a deadline. With
    /// 20,000 live locks that must stay cheap: finding the earliest deadline by scanning every
    /// lock made noting them quadratic (seconds of CPU in a debug build).
    @Test func notingManyDeadlinesIsNotQuadratic() {
        let tracker = ExpiryTracker(backend: InMemoryLockBackend(), clock: SystemLockClock())
        let count = 20_000
        let start = ContinuousClock.now
        // Each later than the last: none is the earliest, so each is compared with all.
        for index in 0..<count { tracker.track("lock-\(index)", ttl: .seconds(60) + .milliseconds(index)) }
        let elapsed = ContinuousClock.now - start
        #expect(tracker.count == count)
        #expect(elapsed < .seconds(1), "noting \(count) deadlines took \(elapsed)")
    }

    /// A lock renewed, re-taken or forgotten is looked at only at its current deadline, once.
    @Test func onlyTheCurrentDeadlineOfALockComesDue() {
        let start = ContinuousClock.now
        func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }
        var deadlines = ExpiryDeadlines()
        var earliest: [Bool] = []
        earliest.append(deadlines.set("renewed", at: at(10)))
        earliest.append(deadlines.set("renewed", at: at(30)))
        // Earlier than the renewed lock's new deadline.
        earliest.append(deadlines.set("forgotten", at: at(20)))
        earliest.append(deadlines.set("early", at: at(5)))
        // The same deadline noted twice (a `locked` event and a look that found it renewed).
        earliest.append(deadlines.set("again", at: at(40)))
        earliest.append(deadlines.set("again", at: at(40)))
        #expect(earliest == [true, false, true, true, false, false])
        _ = deadlines.set("again", at: at(50))
        _ = deadlines.set("again", at: at(40))
        deadlines.remove("forgotten")
        #expect(deadlines.earliest == at(5))
        let first = deadlines.takeDue(at: at(25))
        #expect(first == ["early"])
        #expect(deadlines.earliest == at(30))
        let second = deadlines.takeDue(at: at(45))
        #expect(second == ["renewed", "again"])
        let third = deadlines.takeDue(at: at(100))
        #expect(third == [])
        #expect(deadlines.earliest == nil)
        #expect(deadlines.count == 0)
    }

    /// Locks released long before their deadlines (a one-hour TTL, held for moments) leave no
    /// pile of stale deadlines behind.
    @Test func forgottenDeadlinesDoNotPileUp() {
        let start = ContinuousClock.now
        var deadlines = ExpiryDeadlines()
        _ = deadlines.set("held", at: start + .seconds(7200))
        for index in 0..<100_000 {
            _ = deadlines.set("brief-\(index)", at: start + .seconds(3600) + .milliseconds(index))
            deadlines.remove("brief-\(index)")
        }
        #expect(deadlines.count == 1)
        #expect(deadlines.storedCount <= 100, "\(deadlines.storedCount) deadlines kept for 1 lock")
        #expect(deadlines.earliest == start + .seconds(7200))
    }
}
