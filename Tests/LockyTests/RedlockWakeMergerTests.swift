import Testing

@testable import Locky

/// Which release hints of N Redlock nodes wake waiters, without sockets.
@Suite("Redlock wake-up merging (pure)")
struct RedlockWakeMergerTests {
    let released = WakeHint.released(resource: "r", next: nil)

    /// A minority grant given back after a split vote is reported by that minority only: no
    /// wake-up, however often it happens. A release reported by a quorum wakes at once.
    @Test func onlyAReleaseReportedByAQuorumWakes() {
        var merger = RedlockWakeMerger(quorum: 3)
        let now = ContinuousClock.now
        for _ in 0..<10 {
            #expect(merger.receive(released, tag: "waiter", fromNode: 1, at: now) == nil)
            #expect(merger.receive(released, tag: "waiter", fromNode: 3, at: now) == nil)
        }
        #expect(merger.receive(released, tag: "other", fromNode: 2, at: now) == nil, "another attempt's report")
        #expect(merger.receive(released, tag: "holder", fromNode: 0, at: now) == nil)
        #expect(merger.receive(released, tag: "holder", fromNode: 2, at: now) == nil)
        #expect(merger.receive(released, tag: "holder", fromNode: 4, at: now) == released)
        // Later reports of that release wake again (at most N − quorum more).
        #expect(merger.receive(released, tag: "holder", fromNode: 1, at: now) == released)
        // Gaps pass at once.
        #expect(merger.receive(.gap, tag: "", fromNode: 0, at: now) == .gap)
    }

    /// A shortened TTL wakes once a quorum of nodes reported it, apart from a release of the
    /// same attempt and from another new TTL: a minority's deadline is not the lock's.
    @Test func aShortenedTTLWakesOnceAQuorumReportedIt() {
        var merger = RedlockWakeMerger(quorum: 2)
        let now = ContinuousClock.now
        let shortened = WakeHint.ttlShortened(resource: "r", ttl: .milliseconds(300), first: nil)
        #expect(merger.receive(shortened, tag: "holder", fromNode: 0, at: now) == nil)
        #expect(merger.receive(released, tag: "holder", fromNode: 1, at: now) == nil, "a release is another change")
        #expect(
            merger.receive(.ttlShortened(resource: "r", ttl: .milliseconds(200), first: nil), tag: "holder", fromNode: 1, at: now)
                == nil, "another new TTL")
        #expect(merger.receive(shortened, tag: "holder", fromNode: 1, at: now) == shortened)
    }

    /// A locker's next cycle has the same tag: a node reporting again starts a new release, and
    /// reports older than the window do not count.
    @Test func cyclesAndTheWindow() {
        var merger = RedlockWakeMerger(quorum: 2)
        let now = ContinuousClock.now
        #expect(merger.receive(released, tag: "a", fromNode: 0, at: now) == nil)
        #expect(merger.receive(released, tag: "a", fromNode: 1, at: now) == released)
        #expect(merger.receive(released, tag: "a", fromNode: 0, at: now) == nil, "a new cycle")
        #expect(merger.receive(released, tag: "a", fromNode: 1, at: now) == released)
        #expect(merger.receive(released, tag: "b", fromNode: 0, at: now) == nil)
        #expect(merger.receive(released, tag: "b", fromNode: 1, at: now + .seconds(3)) == nil, "too late")
    }
}
