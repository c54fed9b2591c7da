import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Synchronization
import Testing

/// The fair queue when no release hands the lock over: the holder's TTL runs out, or the first
/// waiter leaves. The waiter behind a dead or departed first waiter must get the lock soon
/// after the holder's expiry, not after the dead one's place lapses or its own next refresh.
@Suite("Fair queue review")
struct FairQueueReviewTests {
    /// A crashed holder (never released, 400 ms TTL) and a crashed first waiter (Redis: nobody
    /// subscribed to its wake channel; memory: nobody listens for it) with a 2 s place, as a
    /// client's: the live waiter behind them gets the lock soon after the holder's expiry. A
    /// crashed waiter is skipped, as a release skips it, not waited out until its place lapses.
    @Test(arguments: queueingBackendKinds)
    func aCrashedFirstWaiterDoesNotHoldUpAnExpiredLock(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let taken = ContinuousClock.now
            let holder = try await client.tryAcquire("lapse", ttl: .milliseconds(400), label: "crashed-holder")
            let ghost = try await env.backend.acquireFair(
                "lapse", owner: "ghost-owner", ttl: .seconds(30), waiter: "0123456789abcdef.1", waiterTTL: .seconds(2),
                attempt: 1)
            guard case .queued(_, first: true) = ghost else {
                Issue.record("the crashed waiter must be queued first behind the holder: \(ghost)")
                return
            }
            let other = try env.otherProcessClient()
            let lease = try await other.acquire("lapse", ttl: .seconds(30), label: "alive", timeout: .seconds(5), fair: true)
            let waited = ContinuousClock.now - taken
            #expect(waited < .milliseconds(400 + 350), "the live waiter got the lock \(waited) after the 400 ms lock was taken")
            #expect(lease.fencingToken == holder.fencingToken + 1)
            #expect(lease.isValid)
            #expect(try await other.release(lease) == .released)
            #expect(try await env.storedOwner("lapse") == nil, "the lock went to the crashed waiter")
            if let server = env.server {
                #expect(try server.cli("EXISTS", "locky:{lapse}:queue") == "0", "the crashed waiter is still queued")
            }
            await other.close()
        }
    }

    /// The first waiter leaves (gives up) while the lock is held by a holder that then crashes
    /// (300 ms TTL). The waiter behind it is told it is first now, so it watches the holder's
    /// expiry and takes the lock soon after it, not at its next refresh of its place (every
    /// 667 ms).
    @Test(arguments: queueingBackendKinds)
    func theWaiterBehindOneThatLeftWatchesTheHolderExpiry(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let backend = env.backend
            // A live waiter of another process: it listens for its hand-off.
            try await backend.withWakeHandler(waiter: "feedface.1", { _ in }) {
                let taken = ContinuousClock.now
                let holder = try await client.tryAcquire("left", ttl: .milliseconds(300), label: "crashed-holder")
                let reply = try await backend.acquireFair(
                    "left", owner: "leaving-owner", ttl: .seconds(30), waiter: "feedface.1", waiterTTL: .seconds(2), attempt: 1)
                guard case .queued(_, first: true) = reply else {
                    Issue.record("the leaving waiter must be queued first behind the holder: \(reply)")
                    return
                }
                let other = try env.otherProcessClient()
                async let waiting = other.acquire("left", ttl: .seconds(30), label: "behind", timeout: .seconds(5), fair: true)
                try await env.waitUntilQueued("left", 2)
                try await backend.leaveQueue("left", waiter: "feedface.1", owner: "leaving-owner")
                let lease = try await waiting
                let waited = ContinuousClock.now - taken
                #expect(waited < .milliseconds(300 + 250), "the waiter got the lock \(waited) after the 300 ms lock was taken")
                #expect(lease.fencingToken == holder.fencingToken + 1)
                #expect(try await other.release(lease) == .released)
                await other.close()
            }
        }
    }

    /// The first waiter's process crashes after the second queued behind it (so the second does
    /// not watch the holder's expiry); a third waiter's attempt evicts the crashed one. The
    /// second, first now, is told, and takes the lock soon after the crashed holder's 300 ms
    /// lock expires, not at its next refresh of its place (every 667 ms).
    @Test(arguments: queueingBackendKinds)
    func aWaiterMadeFirstByAnEvictionWatchesTheHolderExpiry(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let backend = env.backend
            let taken = ContinuousClock.now
            let holder = try await client.tryAcquire("evict", ttl: .milliseconds(300), label: "crashed-holder")
            let other = try env.otherProcessClient()
            var second: Task<Lease, any Error>?
            // Live while the second queues behind it, then gone (its subscription with its process).
            try await FairWaitingTests().whileListening(env, token: "0123456789abcdef") {
                let reply = try await backend.acquireFair(
                    "evict", owner: "crashed-owner", ttl: .seconds(30), waiter: "0123456789abcdef.1", waiterTTL: .seconds(30),
                    attempt: 1)
                guard case .queued(_, first: true) = reply else {
                    Issue.record("the crashed waiter must be queued first behind the holder: \(reply)")
                    return
                }
                second = Task {
                    try await other.acquire("evict", ttl: .seconds(30), label: "second", timeout: .seconds(5), fair: true)
                }
                try await env.waitUntilQueued("evict", 2)
            }
            // A third, live waiter queues: its attempt evicts the crashed one.
            try await backend.withWakeHandler(waiter: "feedface.1", { _ in }) {
                let third = try await backend.acquireFair(
                    "evict", owner: "third-owner", ttl: .seconds(30), waiter: "feedface.1", waiterTTL: .seconds(30), attempt: 1)
                guard case .queued(_, first: false) = third else {
                    Issue.record("the third waiter must be queued behind the second: \(third)")
                    return
                }
                let lease = try await #require(second).value
                let waited = ContinuousClock.now - taken
                #expect(waited < .milliseconds(300 + 250), "the second got the lock \(waited) after the 300 ms lock was taken")
                #expect(lease.fencingToken == holder.fencingToken + 1)
                #expect(try await other.release(lease) == .released)
                try await backend.leaveQueue("evict", waiter: "feedface.1", owner: "third-owner")
            }
            await other.close()
        }
    }

    /// A fair waiter that gives up while a release hands it the lock gives it back to the next
    /// waiter in the same step: the next one holds it right away, although its own requests
    /// take 300 ms to arrive (it was handed the lock, not woken to try), with the next token.
    @Test(arguments: queueingBackendKinds)
    func aLockGivenBackGoesStraightToTheNextWaiter(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let backend = env.backend
            try await env.withSlowClient { slow, slowDown in
                try await backend.withWakeHandler(waiter: "feedface.1", { _ in }) {
                    let holder = try await client.tryAcquire("back", ttl: .seconds(30))
                    _ = try await backend.acquireFair(
                        "back", owner: "late-owner", ttl: .seconds(30), waiter: "feedface.1", waiterTTL: .seconds(30),
                        attempt: 1)
                    async let next = slow.acquire("back", ttl: .seconds(30), label: "next", timeout: .seconds(10), fair: true)
                    try await env.waitUntilQueued("back", 2)
                    slowDown(.milliseconds(300))
                    #expect(try await client.release(holder) == .released)
                    #expect(try await env.storedOwner("back") == "late-owner")
                    let start = ContinuousClock.now
                    try await backend.leaveQueue("back", waiter: "feedface.1", owner: "late-owner")
                    #expect(try await env.storedOwner("back")?.hasPrefix("next/") == true, "not handed on by the give-back")
                    let lease = try await next
                    #expect(ContinuousClock.now - start < .milliseconds(300 + 250))
                    #expect(lease.fencingToken == holder.fencingToken + 2)
                    #expect(lease.isValid)
                    slowDown(.zero)
                    #expect(try await slow.release(lease) == .released)
                }
            }
        }
    }

    /// The locker API's unconditional `unlock` of a resource with fair waiters hands it to the
    /// first of them, as a release does; a forced `lock` takes it ahead of them, and its
    /// unlock hands it on. Nothing stays locked, and nothing but the fence counter stays
    /// without an expiry.
    @Test(arguments: queueingBackendKinds)
    func unlockAndForcedLockServeTheQueue(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            #expect(try await client.lock("doc", locker: "editor").isLocked)
            let other = try env.otherProcessClient()
            async let first = other.acquire("doc", ttl: .seconds(30), label: "first", timeout: .seconds(10), fair: true)
            try await env.waitUntilQueued("doc", 1)
            #expect(try await client.unlock("doc") == .unlocked)
            let firstLease = try await first
            #expect(firstLease.isValid)
            #expect(try await env.storedOwner("doc") == firstLease.owner)
            async let second = other.acquire("doc", ttl: .seconds(30), label: "second", timeout: .seconds(10), fair: true)
            // Redis counts the queue now (the first left it); memory every waiter queued so far.
            try await env.waitUntilQueued("doc", env.server == nil ? 2 : 1)
            // The forced lock takes it from the first lease; its unlock hands it to the second.
            #expect(try await client.lock("doc", locker: "admin", force: true).isLocked)
            #expect(try await client.unlock("doc") == .unlocked)
            let secondLease = try await second
            #expect(secondLease.fencingToken == firstLease.fencingToken + 2)
            #expect(try await other.release(secondLease) == .released)
            #expect(try await other.release(firstLease) != .released)
            #expect(try await env.storedOwner("doc") == nil)
            if let server = env.server {
                let keys = try server.cli("KEYS", "*").split(separator: "\n").map(String.init)
                for key in keys where !key.hasSuffix(":fence") {
                    let pttl = try server.cli("PTTL", key)
                    #expect(Int(pttl).map { $0 > 0 } == true, "\(key) has no expiry (PTTL \(pttl))")
                }
            }
            await other.close()
        }
    }
}
