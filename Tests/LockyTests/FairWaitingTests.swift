import Locky
import LockyRedis
import LockyTestSupport
import Synchronization
import Testing

/// Fair mode: waiters of every process acquire in arrival order; dead waiters are evicted.
@Suite("Fair waiting")
struct FairWaitingTests {
    /// Waiters of different processes (clients) get the lock in the order they queued. Each
    /// arrives only once the one before it is queued.
    @Test(arguments: queueingBackendKinds)
    func waitersAcquireInArrivalOrder(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let holder = try await env.client.tryAcquire("fifo", ttl: .seconds(30))
            var waiters: [LockClient] = []
            for _ in 0..<5 { waiters.append(try env.otherProcessClient()) }
            let order = ArrivalLog()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, waiter) in waiters.enumerated() {
                    group.addTask {
                        let lease = try await waiter.acquire("fifo", ttl: .seconds(30), timeout: .seconds(20), fair: true)
                        order.entries.withLock { $0.append(index) }
                        _ = try await waiter.release(lease)
                    }
                    try await env.waitUntilQueued("fifo", index + 1)
                }
                _ = try await env.client.release(holder)
                try await group.waitForAll()
            }
            #expect(order.entries.withLock { $0 } == [0, 1, 2, 3, 4])
            for waiter in waiters { await waiter.close() }
        }
    }

    /// A release hands the lock to the first fair waiter, so a newcomer that tries at once
    /// finds it taken.
    @Test(arguments: queueingBackendKinds)
    func aNewcomerCannotTakeALockReleasedToAFairWaiter(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let holder = try await client.tryAcquire("barge", ttl: .seconds(30))
            async let waiting = client.acquire("barge", ttl: .seconds(30), label: "in-line", timeout: .seconds(10), fair: true)
            try await env.waitUntilQueued("barge", 1)
            #expect(try await client.release(holder) == .released)
            let newcomer = await #expect(throws: LockError.self) {
                _ = try await client.tryAcquire("barge", ttl: .seconds(30), label: "newcomer")
            }
            #expect(newcomer?.code == .busy)
            #expect(newcomer?.holder?.displayName == "in-line")
            let lease = try await waiting
            #expect(lease.fencingToken == holder.fencingToken + 1)
            #expect(lease.isValid)
            #expect(try await client.release(lease) == .released)
        }
    }

    /// Runs `body` while a fair waiter `<token>.1` of another process listens for its hand-off
    /// (Redis: a connection of its own subscribed to `locky:wake:<token>`; memory: a wake handler
    /// for it on the shared store), as a live process does.
    func whileListening(_ env: LockEnvironment, token: String, _ body: () async throws -> Void) async throws {
        if let server = env.server {
            let connection = try RedisClient(configuration: RedisConfiguration(url: server.url))
            do {
                try await connection.subscribe(channels: ["locky:wake:\(token)"], handler: { _ in }) { try await body() }
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
        } else {
            try await env.backend.withWakeHandler(waiter: "\(token).1", { _ in }) { try await body() }
        }
    }

    /// A waiter whose process is alive (still listening for its hand-off) but hung: it queued
    /// once, with a 300 ms place, and never refreshed it. Past that deadline it is evicted, so
    /// the release hands the lock to the live waiter behind it, not to the hung one.
    @Test(arguments: queueingBackendKinds)
    func aWaiterThatStoppedRefreshingIsEvicted(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let ghost = "0123456789abcdef"
            let holder = try await client.tryAcquire("dead", ttl: .seconds(30))
            try await whileListening(env, token: ghost) {
                let queuedAt = ContinuousClock.now
                let reply = try await client.backend.acquireFair(
                    "dead", owner: "ghost-owner", ttl: .seconds(30), waiter: "\(ghost).1", waiterTTL: .milliseconds(300),
                    attempt: 1)
                guard case .queued(_, first: true) = reply else {
                    Issue.record("the ghost waiter must be queued first behind the holder: \(reply)")
                    return
                }
                let otherProcess = try env.otherProcessClient()
                async let live = otherProcess.acquire("dead", ttl: .seconds(30), label: "alive", timeout: .seconds(5), fair: true)
                try await env.waitUntilQueued("dead", 2)
                // Past the ghost's deadline (with room for a slow machine), well inside the live waiter's.
                try await Task.sleep(until: queuedAt + .milliseconds(700))
                #expect(try await client.release(holder) == .released)
                let lease = try await live
                #expect(lease.fencingToken == holder.fencingToken + 1)
                #expect(try await client.holder(of: "dead")?.displayName == "alive")
                if let server = env.server {
                    #expect(try server.cli("ZSCORE", "locky:{dead}:queue", "\(ghost).1").isEmpty, "the ghost is still queued")
                    #expect(try server.cli("HEXISTS", "locky:{dead}:waiters", "\(ghost).1") == "0")
                }
                // The ghost, still listening, is not handed the lock now either: it left the queue.
                #expect(try await otherProcess.release(lease) == .released)
                #expect(try await client.holder(of: "dead") == nil, "the lock went to the evicted waiter")
                await otherProcess.close()
            }
        }
    }

    @Test(arguments: queueingBackendKinds)
    func aTimedOutWaiterLeavesTheQueue(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let holder = try await client.tryAcquire("leave", ttl: .seconds(30))
            let error = await expectLockError(.timedOut) {
                _ = try await client.acquire("leave", ttl: .seconds(30), timeout: .milliseconds(200), fair: true)
            }
            #expect(error?.holder?.owner == holder.owner)
            if let server = env.server {
                #expect(try server.cli("ZCARD", "locky:{leave}:queue") == "0")
            }
            // The queue does not hold up the next waiter.
            _ = try await client.release(holder)
            let next = try await client.acquire("leave", ttl: .seconds(30), timeout: .seconds(2), fair: true)
            _ = try await client.release(next)
        }
    }

    /// A release hands the lock to the first fair waiter itself (Redis: inside the release
    /// script): the waiter holds it as soon as the release ran, with no round trip of its own.
    /// The waiter's requests reach the store 300 ms late (Redis: a fault proxy; memory: a slow
    /// wrapper), so a waiter that had to acquire on its own could not hold the lock right after
    /// the release.
    @Test(arguments: queueingBackendKinds)
    func aReleaseHandsTheLockToTheFirstFairWaiter(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            try await env.withSlowClient { slow, slowDown in
                let holder = try await client.tryAcquire("handoff", ttl: .seconds(30))
                async let next = slow.acquire(
                    "handoff", ttl: .seconds(30), label: "next-in-line", timeout: .seconds(10), fair: true)
                try await env.waitUntilQueued("handoff", 1)
                slowDown(.milliseconds(300))
                let start = ContinuousClock.now
                #expect(try await client.release(holder) == .released)
                let owner = try #require(try await env.storedOwner("handoff"))
                #expect(owner.hasPrefix("next-in-line/"), "held by '\(owner)' right after the release")
                #expect(ContinuousClock.now - start < .milliseconds(300))
                let lease = try await next
                #expect(lease.owner == owner)
                #expect(lease.fencingToken == holder.fencingToken + 1)
                #expect(lease.isValid)
                #expect(lease.validUntil <= start + .seconds(30))
                if let server = env.server {
                    #expect(try server.cli("HLEN", "locky:{handoff}:waiters") == "1")  // the ticket counter only
                }
                slowDown(.zero)
                #expect(try await slow.release(lease) == .released)
                // Nobody is left queued: the next fair acquire takes the free lock at once.
                let after = try await client.acquire("handoff", ttl: .seconds(30), timeout: .zero, fair: true)
                #expect(try await client.release(after) == .released)
            }
        }
    }

    /// Releasing a lease on many resources hands each resource that has fair waiters to its
    /// first live waiter in the same step, however many resources the lease holds (on Redis,
    /// over 16 the unlock takes a faster path when no resource has a queue).
    @Test(arguments: queueingBackendKinds, [3, 20])
    func releasingManyResourcesHandsEachQueuedOneOver(kind: BackendKind, count: Int) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            try await env.withSlowClient { slow, slowDown in
                let resources = (0..<count).map { "many-\($0)" }
                let queuedOn = [resources[1], resources[count - 1]]
                let holder = try await client.tryAcquire(resources, ttl: .seconds(30))
                async let first = slow.acquire(queuedOn[0], ttl: .seconds(30), label: "first", timeout: .seconds(10), fair: true)
                async let last = slow.acquire(queuedOn[1], ttl: .seconds(30), label: "last", timeout: .seconds(10), fair: true)
                try await env.waitUntilQueued(queuedOn[0], 1)
                try await env.waitUntilQueued(queuedOn[1], 1)
                // The waiters' own attempts now take 300 ms to arrive: only a hand-off inside the
                // release can give them the locks at once.
                slowDown(.milliseconds(300))
                #expect(try await client.release(holder) == .released)
                #expect(try await env.storedOwner(queuedOn[0])?.hasPrefix("first/") == true)
                #expect(try await env.storedOwner(queuedOn[1])?.hasPrefix("last/") == true)
                #expect(try await env.storedOwner(resources[0]) == nil)
                let leases = try await [first, last]
                #expect(leases.map(\.fencingToken) == [holder.fencingTokens[1] + 1, holder.fencingTokens[count - 1] + 1])
                slowDown(.zero)
                for lease in leases {
                    #expect(lease.isValid)
                    #expect(try await slow.release(lease) == .released)
                }
            }
        }
    }

    /// A queued waiter whose process is gone (Redis: its client no longer subscribed to its wake
    /// channel; memory: nobody listens for it) is skipped by the hand-off, even within its
    /// liveness deadline: a crashed waiter is never handed a lock it cannot use. It was live
    /// when the waiter behind it queued (a waiter that queues behind a dead one evicts it).
    @Test(arguments: queueingBackendKinds)
    func aWaiterWhoseClientIsGoneIsNotHandedTheLock(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let holder = try await client.tryAcquire("ghost", ttl: .seconds(30))
            let start = ContinuousClock.now
            var live: Task<Lease, any Error>?
            try await whileListening(env, token: "0123456789abcdef") {
                let reply = try await client.backend.acquireFair(
                    "ghost", owner: "ghost-owner", ttl: .seconds(30), waiter: "0123456789abcdef.1", waiterTTL: .seconds(30),
                    attempt: 1)
                if case .acquired = reply { Issue.record("the ghost waiter must be queued behind the holder") }
                live = Task {
                    try await client.acquire("ghost", ttl: .seconds(30), label: "alive", timeout: .seconds(5), fair: true)
                }
                try await env.waitUntilQueued("ghost", 2)
            }
            // The ghost's process is gone, its subscription with it; its place has 30 s left.
            _ = try await client.release(holder)
            let lease = try await #require(live).value
            #expect(ContinuousClock.now - start < .seconds(2))
            #expect(try await client.holder(of: "ghost")?.displayName == "alive")
            _ = try await client.release(lease)
        }
    }

    /// A waiter that gives up just as a release hands it the lock gives the lock back (to the
    /// next waiter), so nothing stays locked behind it.
    @Test(arguments: queueingBackendKinds)
    func leavingTheQueueGivesBackALockHandedOverMeanwhile(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let backend = env.backend
            let holder = try await client.tryAcquire("race", ttl: .seconds(30))
            // A live waiter: it listens for its hand-off (Redis: `locky:wake:feedface` has a subscriber).
            try await backend.withWakeHandler(waiter: "feedface.1", { _ in }) {
                let reply = try await backend.acquireFair(
                    "race", owner: "late-owner", ttl: .seconds(30), waiter: "feedface.1", waiterTTL: .seconds(30), attempt: 1)
                if case .acquired = reply { Issue.record("the waiter must be queued behind the holder") }
                _ = try await client.release(holder)
                #expect(try await env.storedOwner("race") == "late-owner")
                // It gave up before it heard of the hand-off.
                try await backend.leaveQueue("race", waiter: "feedface.1", owner: "late-owner")
                #expect(try await env.storedOwner("race") == nil)
                if let server = env.server {
                    #expect(try server.cli("ZCARD", "locky:{race}:queue") == "0")
                }
            }
            let again = try await client.tryAcquire("race", ttl: .seconds(30))
            #expect(again.fencingToken == holder.fencingToken + 2)
            _ = try await client.release(again)
        }
    }

    /// In memory, a waiter that gives back a lock handed to it wakes the waiters that are not
    /// queued (nobody else is): the lock is free for them now, not at the old holder's TTL.
    @Test func givingBackAHandedLockInMemoryWakesTheOtherWaiters() async throws {
        let backend = InMemoryLockBackend()
        let hints = Shared<[WakeHint]>([])
        try await backend.withWakeHandler(waiter: nil, { hint in hints.update { $0.append(hint) } }) {
            // A live fair waiter: it listens for its hand-off.
            try await backend.withWakeHandler(waiter: "feedface.1", { _ in }) {
                _ = try await backend.acquire(["r"], owner: "holder", ttl: .seconds(30))
                let reply = try await backend.acquireFair(
                    "r", owner: "late-owner", ttl: .seconds(30), waiter: "feedface.1", waiterTTL: .seconds(30), attempt: 1)
                if case .acquired = reply { Issue.record("the waiter must be queued behind the holder") }
                _ = try await backend.unlock(["r"], owner: "holder")
                #expect(try await backend.holders(["r"])[0]?.owner == "late-owner")
                hints.update { $0.removeAll() }
                // It gave up before it heard of the hand-off.
                try await backend.leaveQueue("r", waiter: "feedface.1", owner: "late-owner")
                #expect(try await backend.holders(["r"])[0] == nil)
                #expect(hints.value.contains(.released(resource: "r", next: nil)), "\(hints.value)")
            }
        }
    }

    /// In memory with a manual clock, advancing the clock does not make live fair waiters look
    /// dead (Redis judges liveness by its own time, which a manual clock does not move): the
    /// release still hands the lock to the first of them.
    @Test func aManualClockDoesNotEvictLiveFairWaiters() async throws {
        let clock = ManualLockClock()
        let backend = InMemoryLockBackend(clock: clock)
        let hints = Shared<[WakeHint]>([])
        try await backend.withWakeHandler(waiter: "b.1", { hint in hints.update { $0.append(hint) } }) {
            try await backend.withWakeHandler(waiter: "c.1", { _ in }) {
                _ = try await backend.acquire(["r"], owner: "a", ttl: .seconds(30))
                for waiter in ["b.1", "c.1"] {
                    _ = try await backend.acquireFair(
                        "r", owner: waiter, ttl: .seconds(30), waiter: waiter, waiterTTL: .seconds(2), attempt: 1)
                }
                clock.advance(by: .seconds(5))
                _ = try await backend.unlock(["r"], owner: "a")
                #expect(try await backend.holders(["r"])[0]?.owner == "b.1")
                #expect(hints.value.contains { if case .handedOver(_, "b.1", _, _) = $0 { true } else { false } })
            }
        }
    }

    @Test func fairWaitingTakesOneResource() async throws {
        let client = try LockClient(configuration: LockyConfiguration(backend: .memory))
        let error = await expectLockError(.invalidArgument) {
            _ = try await client.acquire(["a", "b"], timeout: .seconds(1), fair: true)
        }
        #expect(error?.message.isEmpty == false)
    }
}

/// The order in which waiters got the lock.
final class ArrivalLog: Sendable {
    let entries = Mutex<[Int]>([])
}
