import Locky
import LockyRedis
import LockyTestSupport
import Synchronization
import Testing

/// Fair mode: waiters of every process acquire in arrival order; dead waiters are evicted.
@Suite("Fair waiting")
struct FairWaitingTests {
    enum Kind: String, CaseIterable, Sendable {
        case memory, redis
    }

    /// A fresh fair-waiting backend: a client of it, and clients of other processes.
    struct FairEnvironment: Sendable {
        let client: LockClient
        /// The redis-server (Redis only).
        let server: RedisServer?
        /// The one in-memory store every client of a memory environment shares (memory only).
        let memory: RecordingBackend?

        /// A client of another process: its own connections (Redis), or its own `LockClient`
        /// over the shared store (memory, which lives in one process).
        func makeClient() throws -> LockClient {
            if let server { return try LockClient(configuration: LockyConfiguration(url: server.url)) }
            return try LockClient(backend: try #require(memory))
        }

        /// How many fair waiters are queued on `resource`: its queue's `ZCARD` (Redis); memory,
        /// whose queue cannot be read from outside: how many the store has answered `queued`.
        func queuedWaiters(_ resource: String) throws -> Int {
            if let server { return Int(try server.cli("ZCARD", "locky:{\(resource)}:queue")) ?? -1 }
            return try #require(memory).waitersQueued(on: resource)
        }

        /// Waits until `count` waiters are queued on `resource` (fails the test after 10 s).
        func waitUntilQueued(_ resource: String, _ count: Int, sourceLocation: SourceLocation = #_sourceLocation)
            async throws
        {
            let queued = try await eventually(within: .seconds(10)) { try queuedWaiters(resource) >= count }
            let now = try queuedWaiters(resource)
            try #require(queued, "\(now) of \(count) waiters queued", sourceLocation: sourceLocation)
        }
    }

    /// Runs `body` with a fresh backend of `kind` (a real redis-server for Redis).
    func withFairBackend(_ kind: Kind, _ body: (FairEnvironment) async throws -> Void) async throws {
        switch kind {
        case .memory:
            let memory = RecordingBackend(InMemoryLockBackend())
            let client = try LockClient(backend: memory)
            try await body(FairEnvironment(client: client, server: nil, memory: memory))
            await client.close()
        case .redis:
            try await RedisServer.withServer { server throws in
                let client = try LockClient(configuration: LockyConfiguration(url: server.url))
                do {
                    try await body(FairEnvironment(client: client, server: server, memory: nil))
                    await client.close()
                } catch {
                    await client.close()
                    throw error
                }
            }
        }
    }

    /// Runs `body` with a client on a fresh backend of `kind` (a real redis-server for Redis).
    func withFairClient(_ kind: Kind, _ body: (LockClient, RedisServer?) async throws -> Void) async throws {
        try await withFairBackend(kind) { env in try await body(env.client, env.server) }
    }

    /// Waiters of different processes (clients) get the lock in the order they queued. Each
    /// arrives only once the one before it is queued.
    @Test(arguments: Kind.allCases)
    func waitersAcquireInArrivalOrder(kind: Kind) async throws {
        try await withFairBackend(kind) { env in
            let holder = try await env.client.tryAcquire("fifo", ttl: .seconds(30))
            var waiters: [LockClient] = []
            for _ in 0..<5 { waiters.append(try env.makeClient()) }
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
    /// finds it taken: on both backends.
    @Test(arguments: Kind.allCases)
    func aNewcomerCannotTakeALockReleasedToAFairWaiter(kind: Kind) async throws {
        try await withFairBackend(kind) { env in
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
    func whileListening(_ env: FairEnvironment, token: String, _ body: () async throws -> Void) async throws {
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
            try await env.client.backend.withWakeHandler(waiter: "\(token).1", { _ in }) { try await body() }
        }
    }

    /// A waiter whose process is alive (still listening for its hand-off) but hung: it queued
    /// once, with a 300 ms place, and never refreshed it. Past that deadline it is evicted, so
    /// the release hands the lock to the live waiter behind it, not to the hung one.
    @Test(arguments: Kind.allCases)
    func aWaiterThatStoppedRefreshingIsEvicted(kind: Kind) async throws {
        try await withFairBackend(kind) { env in
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
                let otherProcess = try env.makeClient()
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

    @Test(arguments: Kind.allCases)
    func aTimedOutWaiterLeavesTheQueue(kind: Kind) async throws {
        try await withFairClient(kind) { client, server in
            let holder = try await client.tryAcquire("leave", ttl: .seconds(30))
            let error = await expectLockError(.timedOut) {
                _ = try await client.acquire("leave", ttl: .seconds(30), timeout: .milliseconds(200), fair: true)
            }
            #expect(error?.holder?.owner == holder.owner)
            if let server {
                #expect(try server.cli("ZCARD", "locky:{leave}:queue") == "0")
            }
            // The queue does not hold up the next waiter.
            _ = try await client.release(holder)
            let next = try await client.acquire("leave", ttl: .seconds(30), timeout: .seconds(2), fair: true)
            _ = try await client.release(next)
        }
    }

    /// Redis hands a released lock to the first fair waiter inside the release script: the
    /// waiter holds it as soon as the release ran, with no round trip of its own. The waiter's
    /// commands reach Redis 300 ms late (a fault proxy), so a waiter that had to acquire on its
    /// own could not hold the lock right after the release.
    @Test func aReleaseHandsTheLockToTheFirstFairWaiter() async throws {
        try await withFairClient(.redis) { client, server in
            let server = try #require(server)
            try await FaultProxy.withProxy(upstream: server.port) { proxy in
                let slow = try LockClient(configuration: LockyConfiguration(url: proxy.url))
                let holder = try await client.tryAcquire("handoff", ttl: .seconds(30))
                async let next = slow.acquire(
                    "handoff", ttl: .seconds(30), label: "next-in-line", timeout: .seconds(10), fair: true)
                let queued = try await eventually(within: .seconds(5)) {
                    (try? server.cli("ZCARD", "locky:{handoff}:queue")) == "1"
                }
                try #require(queued)
                proxy.set(.latency(.milliseconds(300), direction: .clientToServer))
                let start = ContinuousClock.now
                #expect(try await client.release(holder) == .released)
                let owner = try server.cli("GET", "locky:{handoff}")
                #expect(owner.hasPrefix("next-in-line/"), "held by '\(owner)' right after the release")
                #expect(ContinuousClock.now - start < .milliseconds(300))
                let lease = try await next
                #expect(lease.owner == owner)
                #expect(lease.fencingToken == holder.fencingToken + 1)
                #expect(lease.isValid)
                #expect(lease.validUntil <= start + .seconds(30))
                #expect(try server.cli("HLEN", "locky:{handoff}:waiters") == "1")  // the ticket counter only
                proxy.set(.latency(.zero))
                #expect(try await slow.release(lease) == .released)
                await slow.close()
            }
        }
    }

    /// Releasing a lease on many resources hands each resource that has fair waiters to its
    /// first live waiter inside the same script, however many resources the lease holds (over
    /// 16 the unlock takes a faster path when no resource has a queue).
    @Test(arguments: [3, 20])
    func releasingManyResourcesHandsEachQueuedOneOver(count: Int) async throws {
        try await withFairClient(.redis) { client, server in
            let server = try #require(server)
            try await FaultProxy.withProxy(upstream: server.port) { proxy in
                let slow = try LockClient(configuration: LockyConfiguration(url: proxy.url))
                let resources = (0..<count).map { "many-\($0)" }
                let queuedOn = [resources[1], resources[count - 1]]
                let holder = try await client.tryAcquire(resources, ttl: .seconds(30))
                async let first = slow.acquire(queuedOn[0], ttl: .seconds(30), label: "first", timeout: .seconds(10), fair: true)
                async let last = slow.acquire(queuedOn[1], ttl: .seconds(30), label: "last", timeout: .seconds(10), fair: true)
                let queued = try await eventually(within: .seconds(5)) {
                    queuedOn.allSatisfy { (try? server.cli("ZCARD", "locky:{\($0)}:queue")) == "1" }
                }
                try #require(queued)
                // The waiters' own attempts now take 300 ms to arrive: only a hand-off inside the
                // release can give them the locks at once.
                proxy.set(.latency(.milliseconds(300), direction: .clientToServer))
                #expect(try await client.release(holder) == .released)
                #expect(try server.cli("GET", "locky:{\(queuedOn[0])}").hasPrefix("first/"))
                #expect(try server.cli("GET", "locky:{\(queuedOn[1])}").hasPrefix("last/"))
                #expect(try server.cli("EXISTS", "locky:{\(resources[0])}") == "0")
                let leases = try await [first, last]
                #expect(leases.map(\.fencingToken) == [holder.fencingTokens[1] + 1, holder.fencingTokens[count - 1] + 1])
                proxy.set(.latency(.zero))
                for lease in leases {
                    #expect(lease.isValid)
                    #expect(try await slow.release(lease) == .released)
                }
                await slow.close()
            }
        }
    }

    /// A queued waiter whose process is gone (its client no longer subscribed to its wake
    /// channel) is skipped by the hand-off, even within its liveness deadline: a crashed
    /// waiter is never handed a lock it cannot use.
    @Test func aWaiterWhoseClientIsGoneIsNotHandedTheLock() async throws {
        try await withFairClient(.redis) { client, _ in
            let holder = try await client.tryAcquire("ghost", ttl: .seconds(30))
            let reply = try await client.backend.acquireFair(
                "ghost", owner: "ghost-owner", ttl: .seconds(30), waiter: "0123456789abcdef.1", waiterTTL: .seconds(30),
                attempt: 1)
            if case .acquired = reply { Issue.record("the ghost waiter must be queued behind the holder") }
            let start = ContinuousClock.now
            async let live = client.acquire("ghost", ttl: .seconds(30), label: "alive", timeout: .seconds(5), fair: true)
            try await Task.sleep(for: .milliseconds(100))
            _ = try await client.release(holder)
            let lease = try await live
            #expect(ContinuousClock.now - start < .seconds(2))
            #expect(try await client.holder(of: "ghost")?.displayName == "alive")
            _ = try await client.release(lease)
        }
    }

    /// A waiter that gives up just as a release hands it the lock gives the lock back (to the
    /// next waiter), so nothing stays locked behind it.
    @Test func leavingTheQueueGivesBackALockHandedOverMeanwhile() async throws {
        try await withFairClient(.redis) { client, server in
            let server = try #require(server)
            let backend = try #require(client.backend as? RedisLockBackend)
            let holder = try await client.tryAcquire("race", ttl: .seconds(30))
            // A live waiter: its client's wake channel has a subscriber.
            try await backend.client.subscribe(channels: ["locky:wake:feedface"], handler: { _ in }) {
                let reply = try await backend.acquireFair(
                    "race", owner: "late-owner", ttl: .seconds(30), waiter: "feedface.1", waiterTTL: .seconds(30), attempt: 1)
                if case .acquired = reply { Issue.record("the waiter must be queued behind the holder") }
                _ = try await client.release(holder)
                #expect(try server.cli("GET", "locky:{race}") == "late-owner")
                // It gave up before it heard of the hand-off.
                try await backend.leaveQueue("race", waiter: "feedface.1", owner: "late-owner")
                #expect(try server.cli("EXISTS", "locky:{race}") == "0")
                #expect(try server.cli("ZCARD", "locky:{race}:queue") == "0")
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
