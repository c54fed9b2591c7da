import LockyRedis
import Testing

@testable import Locky

/// The Redlock event merger as a state machine, without sockets.
@Suite("Redlock event merging (pure)")
struct RedlockEventMergerTests {
    let locked = LockEvent.locked(resource: "r", locker: "a", ttl: nil)
    let unlocked = LockEvent.unlocked(resource: "r")

    /// A short hold: node 0's `L` and `U` both came before node 1's `L`. Passing the `L` on
    /// threw away node 0's `U` report, so node 1's `U` was one report of two: the `unlocked`
    /// was lost. Only reports of changes that began before the passed one are dropped.
    @Test func passingAChangeKeepsTheReportsOfNewerChanges() {
        var merger = RedlockEventMerger(quorum: 2)
        let start = ContinuousClock.now
        #expect(merger.receive(locked, tag: "t", fromNode: 0, at: start) == nil)
        #expect(merger.receive(unlocked, tag: "t", fromNode: 0, at: start + .milliseconds(1)) == nil)
        #expect(merger.receive(locked, tag: "t", fromNode: 1, at: start + .milliseconds(2))?.isLocked == true)
        #expect(merger.receive(unlocked, tag: "t", fromNode: 1, at: start + .milliseconds(3))?.isUnlocked == true)
        // The next cycle still starts afresh.
        #expect(merger.receive(locked, tag: "t", fromNode: 1, at: start + .milliseconds(4)) == nil)
        #expect(merger.receive(locked, tag: "t", fromNode: 0, at: start + .milliseconds(5))?.isLocked == true)
    }

    /// Each node publishes a shortened TTL (`T`) after its `locked` and before its `unlocked`:
    /// the news is passed on once, when the quorum-th node reports it (after the `locked`),
    /// the third node's report is no duplicate, and the `unlocked` still counts.
    @Test func aShortenedTTLIsPassedOnOnceAfterTheLocked() {
        var merger = RedlockEventMerger(quorum: 2)
        let start = ContinuousClock.now
        let shortened = BackendEvent.ttlShortened(resource: "r", ttl: .milliseconds(200))
        var passed: [String] = []
        func receive(_ event: BackendEvent, from node: Int) {
            let at = start + .milliseconds(passed.count + node)
            switch merger.receive(event, tag: "t", fromNode: node, at: at) {
            case .lock(let event)?: passed.append(LockEventTests.describe(event))
            case .ttlShortened(let resource, let ttl)?: passed.append("shortened \(resource) to \(ttl.wholeMilliseconds) ms")
            case nil: break
            }
        }
        receive(.lock(locked), from: 0)
        receive(shortened, from: 0)
        receive(.lock(unlocked), from: 0)
        receive(.lock(locked), from: 1)
        receive(shortened, from: 1)
        receive(.lock(locked), from: 2)
        receive(shortened, from: 2)
        receive(.lock(unlocked), from: 1)
        receive(.lock(unlocked), from: 2)
        #expect(passed == ["locked r by a", "shortened r to 200 ms", "unlocked r"])
        // Another TTL is another change; a minority's is none.
        receive(.ttlShortened(resource: "r", ttl: .milliseconds(100)), from: 2)
        #expect(passed.count == 3)
        receive(.ttlShortened(resource: "r", ttl: .milliseconds(100)), from: 0)
        #expect(passed.last == "shortened r to 100 ms")
    }

    /// Unconditional unlocks all had tag "": one node's `U` of one unlock and another node's
    /// `U` of a later unlock counted as a quorum for one change. Each call has its own tag now.
    @Test func unconditionalUnlocksHaveATagPerCall() async throws {
        // Never connected: the requests are only built.
        let client = try RedisClient(configuration: RedisConfiguration(url: "redis://127.0.0.1:7699"))
        let backend = RedisLockBackend(client: client, keyspace: try LockKeyspace())
        let first = backend.unlockRequest(["r"], owner: nil)
        let second = backend.unlockRequest(["r"], owner: nil)
        #expect(first.command != second.command)
        #expect(backend.unlockRequest(["r", "s"], owner: nil).command != backend.unlockRequest(["r", "s"], owner: nil).command)
        #expect(backend.unlockRequest(["r"], owner: "a").command == backend.unlockRequest(["r"], owner: "a").command)
        await client.close()
    }
}

extension LockEvent {
    fileprivate var isLocked: Bool {
        if case .locked = self { return true }
        return false
    }

    fileprivate var isUnlocked: Bool {
        if case .unlocked = self { return true }
        return false
    }
}
