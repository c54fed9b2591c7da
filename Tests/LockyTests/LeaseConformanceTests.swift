import Locky
import Testing

/// The lease API (`acquire`, `tryAcquire`, `extend`, `release`) on every backend.
@Suite("Lease API conformance")
struct LeaseConformanceTests {
    @Test(arguments: BackendKind.allCases)
    func acquireOneResource(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("job-1", ttl: .seconds(10))
            #expect(lease.resources == ["job-1"])
            #expect(lease.fencingTokens.count == 1)
            #expect(lease.fencingToken >= 1)
            #expect(lease.fencingToken(for: "job-1") == lease.fencingToken)
            #expect(lease.fencingToken(for: "other") == nil)
            #expect(isLeaseOwner(lease.owner), "owner \(lease.owner.count) chars is not 128 bits of hex")
            #expect(lease.ttl == .seconds(10))
            #expect(try await env.storedOwner("job-1") == lease.owner)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func acquireManyResources(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let resources = ["a", "b", "c"]
            let lease = try await env.client.acquire(resources, ttl: .seconds(10))
            #expect(lease.resources == resources)
            #expect(lease.fencingTokens.count == 3)
            for (index, resource) in resources.enumerated() {
                #expect(lease.fencingToken(for: resource) == lease.fencingTokens[index])
                #expect(try await env.storedOwner(resource) == lease.owner)
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func multiAcquireIsAllOrNothing(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let holder = try await env.client.acquire("b", ttl: .seconds(10), label: "first")
            let error = await expectLockError(.busy) {
                _ = try await env.client.tryAcquire(["a", "b", "c"], ttl: .seconds(10))
            }
            #expect(error?.resource == "b")
            #expect(error?.holder?.displayName == "first")
            // The free ones were not taken, not even for a moment that outlives the call.
            #expect(try await env.storedOwner("a") == nil)
            #expect(try await env.storedOwner("c") == nil)
            #expect(try await env.storedOwner("b") == holder.owner)
            // And they are free for anyone else.
            let other = try await env.client.tryAcquire(["a", "c"], ttl: .seconds(10))
            #expect(other.resources == ["a", "c"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func ownersAreUniqueAndLabelled(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let first = try await env.client.acquire("x", ttl: .seconds(10), label: "host-1:42")
            let second = try await env.client.acquire("y", ttl: .seconds(10), label: "host-1:42")
            #expect(isLeaseOwner(first.owner, label: "host-1:42"))
            #expect(isLeaseOwner(second.owner, label: "host-1:42"))
            #expect(first.owner != second.owner)
            #expect(first.label == "host-1:42")
            let unlabelled = try await env.client.acquire("z", ttl: .seconds(10))
            #expect(isLeaseOwner(unlabelled.owner))
            #expect(unlabelled.owner != first.owner)
            // The description never shows the secret token.
            #expect(!"\(first)".contains(first.owner.suffix(32)))
        }
    }

    @Test(arguments: BackendKind.allCases)
    func configurationLabelIsUsed(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(label: "worker-7"))
            let lease = try await client.acquire("r", ttl: .seconds(5))
            #expect(isLeaseOwner(lease.owner, label: "worker-7"))
            let overridden = try await client.acquire("s", ttl: .seconds(5), label: "special")
            #expect(isLeaseOwner(overridden.owner, label: "special"))
        }
    }

    @Test(arguments: BackendKind.allCases)
    func tryAcquireOnHeldResourceIsBusyWithHolder(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let held = try await env.client.acquire("printer", ttl: .seconds(10), label: "alice")
            let error = await expectLockError(.busy) {
                _ = try await env.client.tryAcquire("printer", ttl: .seconds(10), label: "bob")
            }
            #expect(error?.resource == "printer")
            #expect(error?.holder?.displayName == "alice")
            #expect(error?.holder?.owner == held.owner)
            let remaining = try #require(error?.holder?.remaining)
            #expect(remaining > .zero)
            #expect(remaining <= .seconds(10))
            #expect(error?.holder?.fencingToken == held.fencingToken)
            // The error's text names the label, never the secret token.
            #expect(error.map { "\($0)" }?.contains(held.owner.suffix(32)) == false)
            // Nothing changed for the holder.
            #expect(try await env.storedOwner("printer") == held.owner)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func acquireWithRetryWaitsForTheRelease(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let held = try await env.client.acquire("queue", ttl: .seconds(10))
            let releaser = Task {
                try await Task.sleep(for: .milliseconds(100))
                return try await env.client.release(held)
            }
            let started = ContinuousClock.now
            let lease = try await env.client.acquire(
                "queue",
                ttl: .seconds(10),
                retry: RetryPolicy(count: 100, delay: .milliseconds(20), jitter: .milliseconds(5))
            )
            let waited = ContinuousClock.now - started
            #expect(try await releaser.value == .released)
            #expect(waited >= .milliseconds(90))
            #expect(waited < .seconds(3))
            #expect(lease.fencingToken > held.fencingToken)
            #expect(try await env.storedOwner("queue") == lease.owner)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func acquireWithRetriesExhaustedIsBusy(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            _ = try await env.client.acquire("queue", ttl: .seconds(10), label: "holder")
            let callsBefore = env.backend.calls
            let error = await expectLockError(.busy) {
                _ = try await env.client.acquire(
                    "queue",
                    ttl: .seconds(10),
                    retry: RetryPolicy(count: 3, delay: .milliseconds(10), jitter: .zero)
                )
            }
            #expect(error?.holder?.displayName == "holder")
            // The first attempt and each of the 3 retries: one backend call each.
            #expect(env.backend.calls == callsBefore + 4)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func fencingTokensIncreaseAcrossBothAPIs(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            var tokens: [Int64] = []
            let first = try await env.client.acquire("doc", ttl: .seconds(10))
            tokens.append(first.fencingToken)
            #expect(try await env.client.release(first) == .released)

            guard case .acquired(let locked) = try await env.client.lock("doc", locker: "user-1") else {
                Issue.record("lock did not acquire")
                return
            }
            tokens.append(locked)
            guard case .acquired(let forced) = try await env.client.lock("doc", locker: "user-2", force: true) else {
                Issue.record("force did not acquire")
                return
            }
            tokens.append(forced)
            #expect(try await env.client.unlock("doc") == .unlocked)

            let many = try await env.client.acquire(["other", "doc"], ttl: .seconds(10))
            tokens.append(try #require(many.fencingToken(for: "doc")))
            #expect(try await env.client.release(many) == .released)
            let again = try await env.client.acquire("doc", ttl: .seconds(10))
            tokens.append(again.fencingToken)

            for (earlier, later) in zip(tokens, tokens.dropFirst()) {
                #expect(earlier < later, "tokens \(tokens) do not strictly increase")
            }
            // Tokens are per resource: "other" starts its own sequence.
            #expect(many.fencingToken(for: "other") == 1)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func takeoverAfterExpiryGetsANewToken(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let first = try await env.client.acquire("job", ttl: .milliseconds(150))
            try await env.pass(.milliseconds(300))
            let second = try await env.client.tryAcquire("job", ttl: .seconds(10))
            #expect(second.fencingToken > first.fencingToken)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func leaseIsValidWhenHandedOver(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let ttl = Duration.seconds(5)
            let lease = try await env.client.acquire("v", ttl: ttl)
            #expect(lease.isValid)
            #expect(!lease.isReleased)
            #expect(lease.remaining > .zero)
            #expect(lease.remaining <= ttl)
            // Drift (1 % + 2 ms) is subtracted: never claims the full TTL.
            #expect(lease.remaining < ttl)
            #expect(lease.remaining > ttl - .milliseconds(env.slack + 60))
        }
    }

    @Test(arguments: BackendKind.allCases)
    func leaseExpiresAfterItsTTL(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("t", ttl: .milliseconds(150), label: "old")
            try await env.pass(.milliseconds(300))
            #expect(!lease.isValid)
            #expect(lease.remaining == .zero)
            #expect(try await env.expiry("t") == .missing)
            let next = try await env.client.tryAcquire("t", ttl: .seconds(10), label: "new")
            #expect(try await env.storedOwner("t") == next.owner)
        }
    }

    /// A lock is held through its deadline and free right after it: Redis 7 expires a key only
    /// once its time has passed (`now > when`, PTTL 0 at the deadline itself). Memory on a
    /// manual clock to the nanosecond; Redis and Redlock on real time, as closely as a round
    /// trip allows.
    @Test(arguments: BackendKind.allCases)
    func aLockIsHeldThroughItsDeadline(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let ttl = Duration.milliseconds(400)
            let sent = ContinuousClock.now
            let lease = try await env.client.tryAcquire("edge", ttl: ttl, label: "edge")
            if let clock = env.manualClock {
                clock.advance(by: ttl)
                let holder = try await env.client.holder(of: "edge")
                #expect(holder?.owner == lease.owner, "free at its deadline")
                #expect(holder?.remaining == .zero)
                let busy = await expectLockError(.busy) { _ = try await env.client.tryAcquire("edge", ttl: .seconds(1)) }
                #expect(busy?.holder?.owner == lease.owner)
                clock.advance(by: .nanoseconds(1))
                #expect(try await env.client.holder(of: "edge") == nil, "held past its deadline")
            } else {
                try await Task.sleep(until: sent + ttl - .milliseconds(150))
                #expect(try await env.client.holder(of: "edge")?.owner == lease.owner, "free before its deadline")
                try await Task.sleep(until: sent + ttl + .milliseconds(2 + 100))
                #expect(try await env.client.holder(of: "edge") == nil, "held past its deadline")
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func extendToExpireInResetsTheTTL(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("e", ttl: .seconds(2))
            try await env.pass(.milliseconds(100))
            try await env.client.extend(lease, toExpireIn: .seconds(20))
            let ms = try #require(try await env.expiry("e").ms)
            #expect(ms <= 20_000)
            #expect(ms >= 20_000 - env.slack)
            #expect(lease.remaining > .seconds(19))
            #expect(lease.remaining <= .seconds(20))
            // Shortening works too: toExpireIn sets, it does not add.
            try await env.client.extend(lease, toExpireIn: .seconds(3))
            let shorter = try #require(try await env.expiry("e").ms)
            #expect(shorter <= 3_000)
            #expect(shorter >= 3_000 - env.slack)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func extendByAddsToTheCurrentExpiry(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("e", ttl: .seconds(5))
            let before = lease.remaining
            try await env.client.extend(lease, by: .seconds(10))
            let ms = try #require(try await env.expiry("e").ms)
            #expect(ms <= 15_000)
            #expect(ms >= 15_000 - env.slack)
            // The server adds 10 s; the lease's validity 10 s less the drift over them (1%).
            let gained = lease.remaining - before
            #expect(gained <= .milliseconds(9_900))
            #expect(gained > .milliseconds(9_900) - .milliseconds(env.slack + 1))
        }
    }

    @Test(arguments: BackendKind.allCases)
    func extendOfManyResourcesExtendsAll(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire(["m1", "m2"], ttl: .seconds(1))
            try await env.client.extend(lease, toExpireIn: .seconds(30))
            for resource in ["m1", "m2"] {
                let ms = try #require(try await env.expiry(resource).ms)
                #expect(ms >= 30_000 - env.slack)
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func extendAfterExpiryIsAlreadyExpired(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("e", ttl: .milliseconds(150))
            try await env.pass(.milliseconds(300))
            let error = await expectLockError(.alreadyExpired) {
                try await env.client.extend(lease, toExpireIn: .seconds(10))
            }
            #expect(error?.resource == "e")
            await expectLockError(.alreadyExpired) {
                try await env.client.extend(lease, by: .seconds(10))
            }
            // Extending did not resurrect the lock.
            #expect(try await env.expiry("e") == .missing)
            #expect(!lease.isValid)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func extendAfterAnotherTookItIsNotOwnerAndLeavesTheirLockAlone(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("e", ttl: .milliseconds(150), label: "slow")
            try await env.pass(.milliseconds(300))
            let thief = try await env.client.tryAcquire("e", ttl: .seconds(5), label: "fast")
            let error = await expectLockError(.notOwner) {
                try await env.client.extend(lease, toExpireIn: .seconds(60))
            }
            #expect(error?.holder?.displayName == "fast")
            #expect(error?.resource == "e")
            await expectLockError(.notOwner) {
                try await env.client.extend(lease, by: .seconds(60))
            }
            // The other owner's lock keeps its own TTL.
            let ms = try #require(try await env.expiry("e").ms)
            #expect(ms <= 5_000)
            #expect(try await env.storedOwner("e") == thief.owner)
            #expect(!lease.isValid)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func extendOfManyIsAllOrNothing(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire(["p", "q"], ttl: .seconds(2))
            // Someone unlocks "q" behind our back (unconditional unlock) and takes it.
            _ = try await env.client.unlock("q")
            _ = try await env.client.lock("q", locker: "intruder")
            await expectLockError(.notOwner) {
                try await env.client.extend(lease, toExpireIn: .seconds(60))
            }
            // "p" was not extended either.
            let ms = try #require(try await env.expiry("p").ms)
            #expect(ms <= 2_000)
            #expect(try await env.expiry("q") == .persistent)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func extendOfAReleasedLeaseSendsNothing(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("e", ttl: .seconds(5))
            #expect(try await env.client.release(lease) == .released)
            let calls = env.backend.calls
            await expectLockError(.alreadyExpired) {
                try await env.client.extend(lease, toExpireIn: .seconds(5))
            }
            #expect(env.backend.calls == calls)
            #expect(try await env.expiry("e") == .missing)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func releaseFreesTheResource(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire(["r1", "r2"], ttl: .seconds(10))
            #expect(try await env.client.release(lease) == .released)
            #expect(lease.isReleased)
            #expect(!lease.isValid)
            #expect(lease.remaining == .zero)
            #expect(try await env.expiry("r1") == .missing)
            #expect(try await env.expiry("r2") == .missing)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func releaseIsIdempotentWithoutContactingTheBackend(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("r", ttl: .seconds(10))
            #expect(try await env.client.release(lease) == .released)
            let calls = env.backend.calls
            #expect(try await env.client.release(lease) == .alreadyReleased)
            #expect(try await env.client.release(lease) == .alreadyReleased)
            #expect(env.backend.calls == calls)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func releaseOfAnExpiredLeaseNeverDeletesTheNewHoldersLock(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let old = try await env.client.acquire("r", ttl: .milliseconds(150))
            try await env.pass(.milliseconds(300))
            let current = try await env.client.tryAcquire("r", ttl: .seconds(10))
            #expect(try await env.client.release(old) == .alreadyExpired)
            #expect(try await env.storedOwner("r") == current.owner)
            #expect(try await env.client.release(current) == .released)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func releaseOfAnExpiredLeaseAnswersAtOnce(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("r", ttl: .milliseconds(150))
            try await env.pass(.milliseconds(300))
            let callsBefore = env.backend.calls
            let outcome = try await env.client.release(lease)
            #expect(outcome == .alreadyExpired)
            // One unlock, answered as it is: no retry, no wait (a wall-clock bound would measure the machine).
            #expect(env.backend.calls == callsBefore + 1)
            #expect(try await env.storedOwner("r") == nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func releaseOfPartlyLostLeaseReleasesTheRest(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire(["keep", "lose"], ttl: .seconds(10))
            _ = try await env.client.lock("lose", locker: "other", force: true)
            #expect(try await env.client.release(lease) == .alreadyExpired)
            #expect(try await env.expiry("keep") == .missing)
            #expect(try await env.storedOwner("lose") == "other")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func releaseFromACancelledTaskStillWorks(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("cleanup", ttl: .seconds(30))
            let started = Shared(false)
            let task = Task { () async throws -> (Bool, ReleaseOutcome) in
                started.update { $0 = true }
                // Wait until cancelled, as cleanup code in a cancelled operation would.
                while !Task.isCancelled { await Task.yield() }
                return (Task.isCancelled, try await env.client.release(lease))
            }
            while !started.value { await Task.yield() }
            task.cancel()
            let (wasCancelled, outcome) = try await task.value
            #expect(wasCancelled)
            #expect(outcome == .released)
            #expect(try await env.expiry("cleanup") == .missing)
        }
    }

    /// 2,500 resources in one acquire, one busy check and one locker call: all or nothing on
    /// every backend (Redis and Redlock: a lock key and a fence key each, all gone but the
    /// fence keys after the release).
    @Test(arguments: BackendKind.allCases)
    func manyResourcesInOneCall(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let resources = (0..<2_500).map { "bulk-\($0)" }
            let lease = try await env.client.acquire(resources, ttl: .seconds(30))
            #expect(lease.fencingTokens.count == resources.count)
            #expect(lease.fencingTokens.allSatisfy { $0 == 1 })
            if let keys = try await env.keyCount() { #expect(keys == Int64(resources.count * 2)) }
            let error = await expectLockError(.busy) {
                _ = try await env.client.tryAcquire(["fresh"] + resources.suffix(1), ttl: .seconds(1))
            }
            #expect(error?.resource == "bulk-2499")
            #expect(try await env.expiry("fresh") == .missing)
            let locked = try await env.client.lock(resources, locker: "other")
            #expect(locked.allSatisfy { !$0.outcome.isLocked })
            #expect(try await env.client.release(lease) == .released)
            if let keys = try await env.keyCount() { #expect(keys == Int64(resources.count)) }
            #expect(try await env.client.heldLocks().isEmpty)
        }
    }
}
