import Locky
import LockyRESP
import LockyRedis
import Testing

/// The locker API's promises on batches that try to break them: mixed outcomes in one call,
/// foreign keys, the largest batches, binary and longest names, TTL switches, on every backend.
@Suite("Locker API batches and edges")
struct LockerBatchEdgeTests {
    /// Free, mine and theirs in one call: each its own outcome; theirs keeps its TTL.
    @Test(arguments: BackendKind.allCases)
    func mixedBatchReportsEachResourceAndLeavesOthersAlone(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(5)))
            guard case .acquired(let mine) = try await client.lock("mine", locker: "me") else {
                Issue.record("lock failed")
                return
            }
            guard case .acquired(let theirs) = try await client.lock("theirs", locker: "them") else {
                Issue.record("lock failed")
                return
            }
            try await env.pass(.milliseconds(300))
            let before = try #require(try await env.expiry("theirs").ms)
            let results = try await client.lock(["free", "theirs", "mine"], locker: "me")
            #expect(results.map(\.resource) == ["free", "theirs", "mine"])
            #expect(results[0].outcome == .acquired(fencingToken: 1))
            guard case .busy(let holder) = results[1].outcome else {
                Issue.record("theirs was not busy: \(results[1])")
                return
            }
            #expect(holder.owner == "them")
            #expect(holder.fencingToken == theirs)
            #expect(results[2].outcome == .alreadyHeld(fencingToken: mine))
            let after = try #require(try await env.expiry("theirs").ms)
            #expect(after <= before)
            // Redlock answers once a quorum decided; the last node resets it right after.
            #expect(try await eventually { (try await env.expiry("mine").ms ?? 0) > before })

            // Owner-checked unlock and refresh of the same mix: theirs untouched.
            let refreshed = try await client.refresh(["free", "theirs", "mine", "none"], locker: "me")
            #expect(refreshed.map(\.outcome)[0] == .refreshed)
            #expect(refreshed.map(\.outcome)[2] == .refreshed)
            #expect(refreshed.map(\.outcome)[3] == .notLocked)
            guard case .heldByAnother(let other) = refreshed[1].outcome else {
                Issue.record("theirs was refreshed: \(refreshed[1])")
                return
            }
            #expect(other.owner == "them")
            #expect(try #require(try await env.expiry("theirs").ms) <= after)
            let unlocked = try await client.unlock(["free", "theirs", "none", "mine"], locker: "me")
            #expect(unlocked.map(\.outcome)[0] == .unlocked)
            #expect(unlocked.map(\.outcome)[2] == .notLocked)
            #expect(unlocked.map(\.outcome)[3] == .unlocked)
            guard case .heldByAnother = unlocked[1].outcome else {
                Issue.record("theirs was unlocked: \(unlocked[1])")
                return
            }
            #expect(try await client.locker(of: ["free", "theirs", "mine"]).map(\.outcome) == [nil, "them", nil])
        }
    }

    /// A lock key of another type in the batch fails the call and changes nothing: not the free
    /// resource, not the TTL of one the locker holds, not a fence counter.
    @Test(arguments: BackendKind.allCases)
    func foreignLockKeyInABatchChangesNothing(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(5)))
            _ = try await client.lock("mine", locker: "me")
            try await env.pass(.milliseconds(300))
            let before = try #require(try await env.expiry("mine").ms)
            try await storeForeignValue(env, key: env.keyspace.lockKey("foreign"))
            for force in [false, true] {
                let error = await expectLockError(.serverError) {
                    _ = try await client.lock(["free", "mine", "foreign"], locker: "me", force: force)
                }
                #expect(error?.resource == "foreign")
            }
            #expect(try await client.locker(of: ["free", "mine", "foreign"]).map(\.outcome) == [nil, "me", nil])
            #expect(try #require(try await env.expiry("mine").ms) <= before)
            #expect(try await client.holder(of: "mine")?.fencingToken == 1)
            // Reads as free, unlocks as not locked, and stays.
            #expect(try await client.unlock(["foreign", "mine"]).map(\.outcome) == [.notLocked, .unlocked])
            #expect(try await client.refresh("foreign") == .notLocked)
            await expectLockError(.serverError) { _ = try await client.lock("foreign", locker: "me") }
        }
    }

    /// A fence key that holds no counter: the same, for any resource of the batch.
    @Test(arguments: BackendKind.allCases)
    func foreignFenceKeyInABatchChangesNothing(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(5)))
            _ = try await client.lock("mine", locker: "me")
            try await env.pass(.milliseconds(300))
            let before = try #require(try await env.expiry("mine").ms)
            try await storeForeignValue(env, key: env.keyspace.fenceKey("garbage"))
            let error = await expectLockError(.serverError) {
                _ = try await client.lock(["free", "mine", "garbage"], locker: "me")
            }
            #expect(error?.resource == "garbage")
            #expect(try await client.locker(of: ["free", "mine", "garbage"]).map(\.outcome) == [nil, "me", nil])
            #expect(try #require(try await env.expiry("mine").ms) <= before)
        }
    }

    /// 1,000 (the fast path's limit), 1,001 and 10,000 resources: every call, one outcome each
    /// (Redlock, whose nodes answer within 500 ms on a loaded machine: the general path only).
    @Test(arguments: BackendKind.allCases, [1_000, 1_001, 10_000])
    func largestBatches(kind: BackendKind, count: Int) async throws {
        if kind == .redlock && count != 1_001 { return }
        try await withBackend(kind) { env throws in
            let names = (0..<count).map { "r\($0)" }
            let client = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(60)))
            var results = try await client.lock(names, locker: "me")
            #expect(results.count == count)
            #expect(results.allSatisfy { $0.outcome == .acquired(fencingToken: 1) })
            #expect(try await client.lock(names, locker: "me").allSatisfy { $0.outcome == .alreadyHeld(fencingToken: 1) })
            // One in the middle held by another, one taken by force.
            #expect(try await client.unlock(names[count / 2]) == .unlocked)
            _ = try await client.lock(names[count / 2], locker: "them")
            results = try await client.lock(names, locker: "me")
            #expect(results.filter { $0.outcome.isLocked }.count == count - 1)
            guard case .busy(let holder) = results[count / 2].outcome else {
                Issue.record("not busy: \(results[count / 2])")
                return
            }
            #expect(holder.owner == "them")
            let refreshed = try await client.refresh(names, locker: "me")
            #expect(refreshed.filter { $0.outcome == .refreshed }.count == count - 1)
            let holders = try await client.holders(of: names)
            #expect(holders.filter { $0.outcome?.owner == "me" }.count == count - 1)
            #expect(holders[count - 1].outcome?.fencingToken == 1)
            let unlocked = try await client.unlock(names, locker: "me")
            #expect(unlocked.filter { $0.outcome == .unlocked }.count == count - 1)
            #expect(try await client.locker(of: names).filter { $0.outcome != nil }.map(\.resource) == [names[count / 2]])
            // The general path of a lock over more than 1,000 free resources counts fences on.
            results = try await client.lock(names, locker: "me", force: true)
            #expect(results[0].outcome == .acquired(fencingToken: 2))
            #expect(results[count / 2].outcome == .acquired(fencingToken: 3))
            #expect(try await client.unlock(names).allSatisfy { $0.outcome == .unlocked })
            if let keys = try await env.keyCount() { #expect(keys == Int64(count)) }
        }
    }

    /// Binary names and names at the documented maximum length.
    @Test(arguments: BackendKind.allCases)
    func binaryAndLongestNames(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let longest = String(repeating: "é", count: 256)
            let names = ["nul\u{0}byte", "tab\tline\nfeed", longest, "{tag}:\u{1F512}", "\u{7F}"]
            #expect(longest.utf8.count == LockLimits.maximumResourceLength)
            let locker = String(repeating: "ü", count: 256)
            let results = try await env.client.lock(names, locker: locker)
            #expect(results.allSatisfy { $0.outcome == .acquired(fencingToken: 1) })
            #expect(try await env.client.locker(of: names).allSatisfy { $0.outcome == locker })
            #expect(try await env.client.refresh(names, locker: locker).allSatisfy { $0.outcome == .refreshed })
            #expect(try await env.client.unlock(names, locker: locker).allSatisfy { $0.outcome == .unlocked })
            await expectLockError(.invalidArgument) { _ = try await env.client.lock(longest + "e", locker: "u") }
            await expectLockError(.invalidArgument) { _ = try await env.client.lock("r", locker: locker + "u") }
            await expectLockError(.invalidArgument) { _ = try await env.client.lock(["a", "b", "a"], locker: "u") }
            await expectLockError(.invalidArgument) { _ = try await env.client.lock([], locker: "u") }
            await expectLockError(.invalidArgument) { _ = try await env.client.unlock([String](repeating: "x", count: 0)) }
            let tooMany = (0...LockLimits.maximumResourcesPerCall).map { "r\($0)" }
            await expectLockError(.invalidArgument) { _ = try await env.client.lock(tooMany, locker: "u") }
            await expectLockError(.invalidArgument) { _ = try await env.client.refresh(tooMany) }
            await expectLockError(.invalidArgument) { _ = try await env.client.locker(of: tooMany) }
        }
    }

    /// No expiry and a TTL, both ways, and a refresh to a shorter TTL.
    @Test(arguments: BackendKind.allCases)
    func refreshSwitchesBetweenNoExpiryAndATTL(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let long = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(60)))
            let short = try env.makeClient(LockyConfiguration(lockerTTL: .seconds(10)))
            _ = try await env.client.lock(["a", "b"], locker: "me")
            #expect(try await env.expiry("a") == .persistent)
            #expect(try await long.refresh(["a", "b"]).allSatisfy { $0.outcome == .refreshed })
            #expect(try #require(try await env.expiry("a").ms) > 59_000)
            #expect(try await short.refresh("a", locker: "me") == .refreshed)
            #expect(try #require(try await env.expiry("a").ms) <= 10_000)
            // Re-lock with a shorter TTL, then with none.
            #expect(try await short.lock("b", locker: "me") == .alreadyHeld(fencingToken: 1))
            #expect(try #require(try await env.expiry("b").ms) <= 10_000)
            #expect(try await env.client.lock("b", locker: "me") == .alreadyHeld(fencingToken: 1))
            #expect(try await env.expiry("b") == .persistent)
            #expect(try await env.client.refresh("a") == .refreshed)
            #expect(try await env.expiry("a") == .persistent)
        }
    }

    /// `force` over a lease: a higher token, a `locked` event naming the new locker, and the
    /// lease finds it is no longer the owner.
    @Test(arguments: BackendKind.allCases)
    func forceOverALease(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.tryAcquire("r", ttl: .seconds(30), label: "worker")
            guard case .acquired(let token) = try await env.client.lock("r", locker: "admin", force: true) else {
                Issue.record("force did not take over")
                return
            }
            #expect(token > lease.fencingToken)
            await expectLockError(.notOwner) { try await env.client.extend(lease, by: .seconds(1)) }
            #expect(try await env.client.release(lease) != .released)
            #expect(try await env.client.locker(of: "r") == "admin")
        }
    }

    /// Stores a value of another type under `key`: a hash on Redis (every node), a fenced value in memory.
    private func storeForeignValue(_ env: LockEnvironment, key: String) async throws {
        if env.inspectionClients.isEmpty {
            _ = try await env.client.fencedWrite("x", to: key, fencingToken: 1)
        } else {
            for client in env.inspectionClients { _ = try await client.execute(RESPCommand("HSET", key, "f", "v")) }
        }
    }
}
