import Testing

@testable import Locky

/// The Redlock event merger fed late reports of an attempt that was given back (pure, no sockets).
@Suite("Redlock review: late reports of a given-back attempt")
struct RedlockReviewEventMergerTests {
    let locked = LockEvent.locked(resource: "r", locker: "a", ttl: nil)
    let unlocked = LockEvent.unlocked(resource: "r")

    /// A merger of three nodes' reports, each a few milliseconds after the one before, and what it passed on.
    struct Feed {
        var merger = RedlockEventMerger(quorum: 2)
        let start = ContinuousClock.now
        var passed: [String] = []

        mutating func receive(_ event: LockEvent, tag: String, from node: Int) {
            let at = start + .milliseconds(passed.count * 10 + node)
            if let event = merger.receive(event, tag: tag, fromNode: node, at: at) {
                passed.append(LockEventTests.describe(event))
            }
        }
    }

    /// An acquire attempt ("c1") granted by node 0, busy on node 1, node 2 not heard in time: no
    /// quorum, so node 0 gives it back ("gc1"); node 2's grant comes later, after node 0's key
    /// was gone, and it gives back too. The key never was on two nodes at once, yet node 2's
    /// late `L` made a quorum with node 0's: the merger passed a `locked` (and then an
    /// `unlocked`) of a lock nobody held. A given-back attempt whose `locked` was not passed
    /// on passes nothing.
    @Test func aLateGrantOfAGivenBackAttemptPassesNothing() {
        var feed = Feed()
        feed.receive(locked, tag: "c1", from: 0)
        feed.receive(unlocked, tag: "gc1", from: 0)
        feed.receive(locked, tag: "c1", from: 2)
        feed.receive(unlocked, tag: "gc1", from: 2)
        #expect(feed.passed == [])
        // A later attempt of the same owner that a quorum grants is passed on as usual.
        feed.receive(locked, tag: "c2", from: 1)
        feed.receive(locked, tag: "c2", from: 2)
        #expect(feed.passed == ["locked r by a"])
    }

    /// A quorum granted ("c1", its `locked` passed on), and the attempt was given back anyway
    /// (raising the fencing tokens failed): the give-back is a real `unlocked`, passed once.
    @Test func aGiveBackAfterAPassedLockedIsAnUnlocked() {
        var feed = Feed()
        feed.receive(locked, tag: "c1", from: 0)
        feed.receive(locked, tag: "c1", from: 1)
        feed.receive(unlocked, tag: "gc1", from: 0)
        feed.receive(unlocked, tag: "gc1", from: 1)
        feed.receive(locked, tag: "c1", from: 2)
        feed.receive(unlocked, tag: "gc1", from: 2)
        #expect(feed.passed == ["locked r by a", "unlocked r"])
    }
}
