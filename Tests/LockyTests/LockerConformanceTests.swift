import Locky
import LockyRESP
import LockyRedis
import Testing

/// The locker API (`lock`, `refresh`, `unlock`, `locker(of:)`, `holders(of:)`) on every backend.
@Suite("Locker API conformance")
struct LockerConformanceTests {
    @Test(arguments: BackendKind.allCases)
    func lockManyReportsEachResource(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            #expect(try await env.client.lock("b", locker: "user-9").isLocked)
            let results = try await env.client.lock(["a", "b", "c"], locker: "user-20")
            #expect(results.map(\.resource) == ["a", "b", "c"])
            guard case .acquired = results[0].outcome, case .acquired = results[2].outcome else {
                Issue.record("free resources were not acquired: \(results)")
                return
            }
            guard case .busy(let holder) = results[1].outcome else {
                Issue.record("held resource was not busy: \(results[1])")
                return
            }
            #expect(holder.owner == "user-9")
            #expect(holder.displayName == "user-9")
            #expect(holder.remaining == nil)
            #expect(try await env.client.locker(of: "a") == "user-20")
            #expect(try await env.client.locker(of: "b") == "user-9")
            #expect(try await env.client.locker(of: "c") == "user-20")
        }
    }

    /// "Who is editing what": every held lock with its holder, sorted, filtered by a glob; fence
    /// and queue keys, released locks and other keys under the prefix are not locks.
    @Test(arguments: BackendKind.allCases)
    func heldLocksListsEveryHeldLockAndNothingElse(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            #expect(try await env.client.heldLocks().isEmpty)
            _ = try await env.client.lock(["article:2", "article:1", "user:7"], locker: "editor-20")
            let lease = try await env.client.tryAcquire("job", ttl: .seconds(30), label: "worker")
            let released = try await env.client.tryAcquire("released", ttl: .seconds(30))
            #expect(try await env.client.release(released) == .released)
            // Names Redis tells apart: NFC and NFD "café" are two locks.
            _ = try await env.client.lock(["caf\u{E9}", "cafe\u{301}"], locker: "editor-21")
            for client in env.inspectionClients {
                _ = try await client.execute(RESPCommand("SET", env.keyspace.prefix + "not-a-lock", "x"))
            }

            let all = try await env.client.heldLocks()
            #expect(all.count == 6, "\(all.map(\.resource))")
            #expect(Set(all.map { Array($0.resource.utf8) }).count == 6)
            #expect(all.map(\.resource).starts(with: ["article:1", "article:2"]))
            let job = all.first { $0.resource == "job" }
            #expect(job?.outcome.owner == lease.owner)
            #expect(job?.outcome.fencingToken == lease.fencingTokens[0])
            #expect((job?.outcome.remaining ?? .zero) > .seconds(29))
            #expect(all.first { $0.resource == "user:7" }?.outcome.owner == "editor-20")

            let articles = try await env.client.heldLocks(matching: "article:*")
            #expect(articles.map(\.resource) == ["article:1", "article:2"])
            #expect(articles.allSatisfy { $0.outcome.owner == "editor-20" && $0.outcome.remaining == nil })
        }
    }

    @Test(arguments: BackendKind.allCases)
    func forceTakesOverWithANewToken(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            guard case .acquired(let first) = try await env.client.lock("article-12", locker: "user-20") else {
                Issue.record("first lock failed")
                return
            }
            guard case .busy = try await env.client.lock("article-12", locker: "admin") else {
                Issue.record("lock without force took over")
                return
            }
            guard case .acquired(let forced) = try await env.client.lock("article-12", locker: "admin", force: true) else {
                Issue.record("force did not take over")
                return
            }
            #expect(forced > first)
            #expect(try await env.client.locker(of: "article-12") == "admin")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func relockBySameLockerIsAlreadyHeldAndResetsTTL(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(1)))
            guard case .acquired(let token) = try await client.lock("r", locker: "u1") else {
                Issue.record("lock failed")
                return
            }
            try await env.pass(.milliseconds(400))
            let aged = try #require(try await env.expiry("r").ms)
            #expect(aged <= 600 + env.slack / 3)
            #expect(try await client.lock("r", locker: "u1") == .alreadyHeld(fencingToken: token))
            let reset = try #require(try await env.expiry("r").ms)
            #expect(reset >= 1_000 - env.slack)
            #expect(reset <= 1_000)
            // Force by the holder itself is also just a reset.
            #expect(try await client.lock("r", locker: "u1", force: true) == .alreadyHeld(fencingToken: token))
        }
    }

    /// The seed's bug: its MULTI ran PEXPIRE even when SET NX failed, so a busy attempt
    /// kept someone else's lock alive forever.
    @Test(arguments: BackendKind.allCases)
    func failedLockDoesNotRefreshTheHoldersTTL(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(1)))
            #expect(try await client.lock("r", locker: "holder").isLocked)
            try await env.pass(.milliseconds(400))
            let before = try #require(try await env.expiry("r").ms)
            guard case .busy(let holder) = try await client.lock("r", locker: "intruder") else {
                Issue.record("intruder was not told busy")
                return
            }
            let after = try #require(try await env.expiry("r").ms)
            #expect(after <= before, "a failed lock refreshed the holder's TTL: \(before) → \(after) ms")
            #expect(after <= 600 + env.slack / 3)
            let remaining = try #require(holder.remaining)
            #expect(remaining <= .milliseconds(600 + env.slack / 3))
            #expect(remaining > .zero)
            // A failed multi-lock does not refresh either.
            _ = try await client.lock(["free", "r"], locker: "intruder")
            let afterMany = try #require(try await env.expiry("r").ms)
            #expect(afterMany <= after)
            // And it expires on time.
            try await env.pass(.milliseconds(800))
            #expect(try await env.expiry("r") == .missing)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func defaultLockerTTLMeansNoExpiry(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            #expect(env.client.configuration.lockerTTL == nil)
            #expect(try await env.client.lock("forever", locker: "u").isLocked)
            #expect(try await env.expiry("forever") == .persistent)
            let holder = try #require(try await env.client.holder(of: "forever"))
            #expect(holder.remaining == nil)
            // Re-locking keeps it persistent.
            _ = try await env.client.lock("forever", locker: "u")
            #expect(try await env.expiry("forever") == .persistent)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func lockerTTLExpires(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .milliseconds(150)))
            #expect(try await client.lock("r", locker: "u1").isLocked)
            try await env.pass(.milliseconds(300))
            #expect(try await client.locker(of: "r") == nil)
            #expect(try await client.lock("r", locker: "u2").isLocked)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func refreshResetsTheTTL(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(1)))
            _ = try await client.lock("r", locker: "u1")
            try await env.pass(.milliseconds(400))
            #expect(try await client.refresh("r") == .refreshed)
            let ms = try #require(try await env.expiry("r").ms)
            #expect(ms >= 1_000 - env.slack)
            try await env.pass(.milliseconds(400))
            #expect(try await client.refresh("r", locker: "u1") == .refreshed)
            let again = try #require(try await env.expiry("r").ms)
            #expect(again >= 1_000 - env.slack)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func refreshNeverCreatesALock(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(1)))
            #expect(try await client.refresh("nothing") == .notLocked)
            #expect(try await client.refresh("nothing", locker: "u1") == .notLocked)
            #expect(try await env.expiry("nothing") == .missing)
            #expect(try await client.locker(of: "nothing") == nil)
            if let count = try await env.keyCount() { #expect(count == 0) }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func ownerCheckedRefreshLeavesOthersAlone(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(1)))
            _ = try await client.lock("r", locker: "u1")
            try await env.pass(.milliseconds(400))
            let results = try await client.refresh(["r"], locker: "u2")
            guard case .heldByAnother(let holder) = results[0].outcome else {
                Issue.record("refresh by another locker was not refused: \(results)")
                return
            }
            #expect(holder.owner == "u1")
            let ms = try #require(try await env.expiry("r").ms)
            #expect(ms <= 600 + env.slack / 3)
            // The same holder on every backend: unlock, refresh and extend report no token.
            #expect(holder.fencingToken == nil)
            guard case .heldByAnother(let unlockHolder) = try await client.unlock("r", locker: "u2") else {
                Issue.record("an owner-checked unlock by another locker was not refused")
                return
            }
            #expect(unlockHolder.fencingToken == nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func refreshManyReportsEach(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(5)))
            _ = try await client.lock("mine", locker: "u1")
            _ = try await client.lock("theirs", locker: "u2")
            let results = try await client.refresh(["mine", "theirs", "free"], locker: "u1")
            #expect(results.map(\.resource) == ["mine", "theirs", "free"])
            #expect(results[0].outcome == .refreshed)
            if case .heldByAnother(let holder) = results[1].outcome {
                #expect(holder.owner == "u2")
            } else {
                Issue.record("expected heldByAnother, got \(results[1].outcome)")
            }
            #expect(results[2].outcome == .notLocked)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func unconditionalUnlock(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            _ = try await env.client.lock(["a", "b"], locker: "u1")
            let results = try await env.client.unlock(["a", "b", "c"])
            #expect(results.map(\.outcome) == [.unlocked, .unlocked, .notLocked])
            #expect(try await env.expiry("a") == .missing)
            #expect(try await env.expiry("b") == .missing)
            #expect(try await env.client.unlock("a") == .notLocked)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func ownerCheckedUnlock(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            _ = try await env.client.lock("r", locker: "u1")
            guard case .heldByAnother(let holder) = try await env.client.unlock("r", locker: "u2") else {
                Issue.record("another locker could unlock")
                return
            }
            #expect(holder.owner == "u1")
            #expect(try await env.client.locker(of: "r") == "u1")
            #expect(try await env.client.unlock("r", locker: "u1") == .unlocked)
            #expect(try await env.client.locker(of: "r") == nil)
            #expect(try await env.client.unlock("r", locker: "u1") == .notLocked)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func lockerOfAndHolders(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(10)))
            #expect(try await client.locker(of: "r") == nil)
            guard case .acquired(let token) = try await client.lock("r", locker: "user-20") else {
                Issue.record("lock failed")
                return
            }
            #expect(try await client.locker(of: "r") == "user-20")
            let lease = try await client.acquire("s", ttl: .seconds(5), label: "worker")
            let lockers = try await client.locker(of: ["r", "s", "t"])
            #expect(lockers.map(\.resource) == ["r", "s", "t"])
            #expect(lockers.map(\.outcome) == ["user-20", lease.owner, nil])
            let holders = try await client.holders(of: ["r", "s", "t"])
            let rHolder = try #require(holders[0].outcome)
            #expect(rHolder.fencingToken == token)
            let remaining = try #require(rHolder.remaining)
            #expect(remaining <= .seconds(10))
            #expect(remaining > .seconds(10) - .milliseconds(3 * env.slack + 1))
            let sHolder = try #require(holders[1].outcome)
            #expect(sHolder.displayName == "worker")
            #expect(sHolder.fencingToken == lease.fencingToken)
            #expect(holders[2].outcome == nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func leaseAndLockerExcludeEachOther(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("shared", ttl: .seconds(10), label: "lease-holder")
            guard case .busy(let holder) = try await env.client.lock("shared", locker: "user") else {
                Issue.record("locker took a leased resource")
                return
            }
            #expect(holder.displayName == "lease-holder")
            #expect(try await env.client.release(lease) == .released)
            #expect(try await env.client.lock("shared", locker: "user").isLocked)
            let error = await expectLockError(.busy) {
                _ = try await env.client.tryAcquire("shared", ttl: .seconds(1))
            }
            #expect(error?.holder?.displayName == "user")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func refreshWithoutLockerTTLRemovesTheExpiry(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let timed = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(5)))
            _ = try await timed.lock("r", locker: "u")
            #expect(try await env.expiry("r").ms != nil)
            #expect(try await env.client.refresh("r", locker: "u") == .refreshed)
            #expect(try await env.expiry("r") == .persistent)
        }
    }
}
