import Locky
import LockyTestSupport
import Testing

/// The waiting acquire (`acquire(_:ttl:label:timeout:)`): woken by the holder's release or at
/// its expiry, never polling, never missing a wake-up, and leaving nothing behind when it gives up.
@Suite("Waiting acquire")
struct WaitingAcquireTests {
    /// Starts a waiting acquire of `resources` in a task on the backend's preferred executor and
    /// returns once its first attempt has been answered busy (so it is waiting).
    private func startWaiter(
        _ env: LockEnvironment,
        _ resources: [String],
        ttl: Duration = .seconds(10),
        timeout: Duration? = .seconds(10)
    ) async throws -> Task<(lease: Lease, at: ContinuousClock.Instant), any Error> {
        let client = env.client
        let before = env.backend.calls
        let waiter = Task(executorPreference: client.backend.preferredTaskExecutor) {
            let lease = try await client.acquire(resources, ttl: ttl, timeout: timeout)
            return (lease: lease, at: ContinuousClock.now)
        }
        let attempted = try await eventually(within: .seconds(5)) { env.backend.calls > before }
        try #require(attempted, "the waiter never tried to acquire")
        // Let the busy reply reach the waiter and the waiter reach its wait.
        try await Task.sleep(for: .milliseconds(30))
        return waiter
    }

    @Test(arguments: BackendKind.allCases)
    func wokenByTheRelease(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let holder = try await env.client.acquire("r", ttl: .seconds(10), label: "holder", timeout: .zero)
            let waiter = try await startWaiter(env, ["r"])
            let released = ContinuousClock.now
            #expect(try await env.client.release(holder) == .released)
            let (lease, acquiredAt) = try await within(.seconds(5), "the waiter") { try await waiter.value }
            let latency = acquiredAt - released
            // A poller would need its retry delay; a crashed-holder timer would need the 10 s TTL.
            #expect(latency < .milliseconds(50), "the waiter got the lock \(latency) after the release")
            #expect(isNextToken(lease.fencingToken, after: holder.fencingToken, kind: kind))
            #expect(try await env.storedOwner("r") == lease.owner)
            #expect(try await env.client.release(lease) == .released)
        }
    }

    /// A waiter for one resource without `fair` that found the lock busy queues behind the
    /// holder, and the release hands it the lock in the same step (Redlock has no queue): right
    /// after the release the waiter holds it and a newcomer finds it busy, although the waiter's
    /// own requests now take 300 ms to arrive.
    @Test(arguments: queueingBackendKinds)
    func aReleaseHandsTheLockToAQueuedNonFairWaiter(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            try await env.withSlowClient { slow, slowDown in
                let holder = try await client.tryAcquire("r", ttl: .seconds(30), label: "holder")
                async let waiting = slow.acquire("r", ttl: .seconds(30), label: "waiter", timeout: .seconds(10))
                try await env.waitUntilQueued("r", 1)
                slowDown(.milliseconds(300))
                #expect(try await client.release(holder) == .released)
                #expect(try await client.holder(of: "r")?.displayName == "waiter", "not handed over by the release")
                #expect(try await client.locker(of: "r")?.hasPrefix("waiter/") == true)
                let newcomer = await expectLockError(.busy) {
                    _ = try await client.tryAcquire("r", ttl: .seconds(30), label: "newcomer")
                }
                #expect(newcomer?.holder?.displayName == "waiter")
                let lease = try await waiting
                #expect(lease.isValid)
                #expect(lease.fencingToken == holder.fencingToken + 1)
                #expect(try await client.locker(of: "r") == lease.owner)
                slowDown(.zero)
                #expect(try await slow.release(lease) == .released)
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func wokenAtTheExpiryOfACrashedHolder(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let sent = ContinuousClock.now
            // Never released: its process "crashed".
            _ = try await env.client.acquire("r", ttl: .milliseconds(300), label: "crashed", timeout: .zero)
            let answered = ContinuousClock.now
            let waiter = try await startWaiter(env, ["r"])
            let (lease, acquiredAt) = try await within(.seconds(5), "the waiter") { try await waiter.value }
            // Not before the lock could have expired, and soon after it did.
            #expect(acquiredAt - sent >= .milliseconds(300), "acquired \(acquiredAt - sent) after the holder took a 300 ms lock")
            #expect(
                acquiredAt - answered < .milliseconds(300 + 150),
                "acquired \(acquiredAt - answered) after the holder took a 300 ms lock; the expiry timer was late"
            )
            #expect(lease.isValid)
            #expect(try await env.client.release(lease) == .released)
        }
    }

    /// The waiter subscribes before its first attempt, so a release between its subscription
    /// and its busy reply (or between the busy reply and its wait) still wakes it.
    @Test(arguments: BackendKind.allCases)
    func noLostWakeUpWhenTheReleaseRacesTheSubscription(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            var slowest = Duration.zero
            for round in 0..<200 {
                let holder = try await client.acquire("r", ttl: .seconds(20), timeout: .zero)
                let started = ContinuousClock.now
                let waiter = Task(executorPreference: client.backend.preferredTaskExecutor) {
                    try await client.acquire("r", ttl: .seconds(5), timeout: .seconds(3))
                }
                // Vary the interleaving: sometimes release at once, sometimes after a few hops.
                for _ in 0..<(round % 7) { await Task.yield() }
                #expect(try await client.release(holder) == .released)
                let lease: Lease
                do {
                    lease = try await waiter.value
                } catch {
                    Issue.record("round \(round): the waiter was never woken by the release: \(error)")
                    return
                }
                slowest = max(slowest, ContinuousClock.now - started)
                #expect(try await client.release(lease) == .released)
            }
            // A lost wake-up would have waited for the timeout (3 s) or the holder's TTL (20 s).
            #expect(slowest < .seconds(1), "the slowest hand-over took \(slowest)")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func timeoutIsTimedOutWithTheHolderAndCancellationIsCancelled(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let holder = try await client.acquire("r", ttl: .seconds(30), label: "holder-7", timeout: .zero)

            let started = ContinuousClock.now
            let timedOut = await expectLockError(.timedOut) {
                _ = try await client.acquire("r", ttl: .seconds(5), label: "waiter", timeout: .milliseconds(200))
            }
            let waited = ContinuousClock.now - started
            #expect(timedOut?.holder?.displayName == "holder-7")
            #expect(timedOut?.holder?.owner == holder.owner)
            #expect(timedOut?.resource == "r")
            #expect(waited >= .milliseconds(200), "gave up after \(waited), before its timeout")
            #expect(waited < .milliseconds(200 + 600), "gave up \(waited) after starting with a 200 ms timeout")

            let waiter = try await startWaiter(env, ["r"], timeout: nil)
            let cancelled = ContinuousClock.now
            waiter.cancel()
            let error = await expectLockError(.cancelled) {
                _ = try await within(.seconds(5), "the cancelled waiter") { try await waiter.value }
            }
            #expect(error != nil)
            #expect(ContinuousClock.now - cancelled < .milliseconds(500), "cancellation took \(ContinuousClock.now - cancelled)")

            // Neither waiter took anything: the holder still holds it, and after its release it is free.
            #expect(try await env.storedOwner("r") == holder.owner)
            #expect(try await client.release(holder) == .released)
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await env.storedOwner("r") == nil, "a waiter that gave up took the lock after all")
            if kind != .memory {
                // After the client's subscription linger (2 s): nothing stays subscribed behind them, on
                // the Redis server or on any Redlock node.
                let unsubscribed = try await eventually(within: .seconds(5), every: .milliseconds(20)) {
                    let subscribers = try await env.subscriberCount(env.keyspace.eventChannel)
                    let wakeChannels = try await env.activeChannels(matching: env.keyspace.wakeChannelPrefix + "*")
                    return subscribers == 0 && wakeChannels.isEmpty
                }
                #expect(unsubscribed, "waiters that gave up are still subscribed to lock events or wake-ups")
            }
        }
    }

    /// A waiter cancelled just as the lock is released either returns the lease or takes nothing:
    /// an acquire in flight when the cancellation comes must not leave an orphaned lock.
    @Test(arguments: BackendKind.allCases)
    func cancellationRacingTheHandOverLeavesNothingLocked(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            var handedOver = 0
            for round in 0..<60 {
                let holder = try await client.acquire("r", ttl: .seconds(20), timeout: .zero)
                let waiter = Task(executorPreference: client.backend.preferredTaskExecutor) {
                    try await client.acquire("r", ttl: .seconds(20), timeout: .seconds(5))
                }
                try await Task.sleep(for: .milliseconds(Int64(round % 4)))
                async let release = client.release(holder)
                for _ in 0..<(round % 5) { await Task.yield() }
                // Now and then a little later: a hand-off inside the release (memory) reaches the
                // waiter within microseconds, so yields alone always cancel it first.
                if round % 3 == 2 { try await Task.sleep(for: .microseconds(500)) }
                waiter.cancel()
                #expect(try await release == .released)
                do {
                    let lease = try await waiter.value
                    handedOver += 1
                    #expect(try await client.release(lease) == .released)
                } catch let error as LockError {
                    #expect(error.code == .cancelled, "round \(round): \(error)")
                }
                #expect(try await env.storedOwner("r") == nil, "round \(round): an orphaned lock was left behind")
            }
            // The race happened: in some rounds the lease came first, in others the cancellation
            // (all of one kind would mean the timing never put them against each other).
            #expect(handedOver > 0 && handedOver < 60, "the waiter got the lease in \(handedOver) of 60 rounds")
            if kind != .memory {
                let unsubscribed = try await eventually(within: .seconds(5), every: .milliseconds(20)) {
                    let subscribers = try await env.subscriberCount(env.keyspace.eventChannel)
                    let wakeChannels = try await env.activeChannels(matching: env.keyspace.wakeChannelPrefix + "*")
                    return subscribers == 0 && wakeChannels.isEmpty
                }
                #expect(unsubscribed, "cancelled waiters are still subscribed (beyond the 2 s linger)")
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func twentyLocalWaitersEachGetItOnceInTokenOrder(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let holder = try await client.acquire("r", ttl: .seconds(30), timeout: .zero)
            let order = Shared<[Int64]>([])
            let holding = Shared(0)
            let overlaps = Shared(0)
            try await within(.seconds(20), "twenty waiters") {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<20 {
                        group.addTask {
                            let lease = try await client.acquire(
                                "r", ttl: .seconds(10), label: "w\(index)", timeout: .seconds(15))
                            let others = holding.update { count -> Int in
                                count += 1
                                return count - 1
                            }
                            if others > 0 { overlaps.update { $0 += 1 } }
                            order.update { $0.append(lease.fencingToken) }
                            try await Task.sleep(for: .milliseconds(2))
                            holding.update { $0 -= 1 }
                            #expect(try await client.release(lease) == .released)
                        }
                    }
                    // Everyone queues behind the holder first.
                    try await Task.sleep(for: .milliseconds(200))
                    #expect(try await client.release(holder) == .released)
                    try await group.waitForAll()
                }
            }
            let tokens = order.value
            #expect(tokens.count == 20)
            #expect(overlaps.value == 0, "two waiters held the lock at the same time")
            if kind == .redlock {
                // Each node counts on its own: an attempt that some node granted but the quorum did not
                // still used up that node's token, so tokens increase with gaps.
                #expect(tokens == tokens.sorted() && Set(tokens).count == 20, "tokens in hand-over order: \(tokens)")
                #expect(tokens.first ?? 0 > holder.fencingToken)
            } else {
                #expect(
                    tokens == Array((holder.fencingToken + 1)...(holder.fencingToken + 20)),
                    "tokens in hand-over order: \(tokens)")
            }
            #expect(try await env.storedOwner("r") == nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func waitingForSeveralResourcesTakesThemWhenAllAreFree(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let first = try await client.acquire("a", ttl: .seconds(30), timeout: .zero)
            let second = try await client.acquire("b", ttl: .seconds(30), timeout: .zero)
            let waiter = try await startWaiter(env, ["a", "b", "c"])

            #expect(try await client.release(first) == .released)
            try await Task.sleep(for: .milliseconds(100))
            // "b" is still held: all or nothing, so the waiter holds nothing yet.
            #expect(try await env.storedOwner("a") == nil)
            #expect(try await env.storedOwner("c") == nil)

            let released = ContinuousClock.now
            #expect(try await client.release(second) == .released)
            let (lease, acquiredAt) = try await within(.seconds(5), "the waiter") { try await waiter.value }
            #expect(acquiredAt - released < .milliseconds(100), "acquired \(acquiredAt - released) after the last release")
            #expect(lease.resources == ["a", "b", "c"])
            #expect(isNextToken(lease.fencingToken(for: "a") ?? 0, after: first.fencingToken, kind: kind))
            #expect(isNextToken(lease.fencingToken(for: "b") ?? 0, after: second.fencingToken, kind: kind))
            for resource in ["a", "b", "c"] { #expect(try await env.storedOwner(resource) == lease.owner) }

            // A crashed holder of one of several resources is noticed at its expiry.
            #expect(try await client.release(lease) == .released)
            _ = try await client.acquire("b", ttl: .milliseconds(300), timeout: .zero)
            let taken = ContinuousClock.now
            let next = try await startWaiter(env, ["a", "b"])
            let (again, at) = try await within(.seconds(5), "the waiter") { try await next.value }
            #expect(at - taken < .milliseconds(300 + 150), "acquired \(at - taken) after a 300 ms lock was taken")
            #expect(try await client.release(again) == .released)
        }
    }
}

/// The token after `previous`: the next one, or on Redlock any higher one (a retry that only some
/// nodes granted used up their tokens).
func isNextToken(_ token: Int64, after previous: Int64, kind: BackendKind) -> Bool {
    kind == .redlock ? token > previous : token == previous + 1
}
