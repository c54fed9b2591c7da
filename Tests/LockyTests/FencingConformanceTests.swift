import Locky
import NIOCore
import Synchronization
import Testing

/// The fencing helper (`fencedWrite`, `fencedRead`) on every backend.
@Suite("Fencing helper conformance")
struct FencingConformanceTests {
    @Test(arguments: BackendKind.allCases)
    func acceptsEqualAndHigherTokensAndRejectsLowerOnes(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = env.client
            #expect(try await client.fencedRead("data:report") == nil)
            #expect(try await client.fencedWrite("v5", to: "data:report", fencingToken: 5) == .accepted)
            #expect(try await client.fencedRead("data:report") == FencedValue(value: ByteBuffer(string: "v5"), highestToken: 5))
            #expect(try await client.fencedWrite("v5b", to: "data:report", fencingToken: 5) == .accepted)
            #expect(try await client.fencedRead("data:report")?.string == "v5b")
            #expect(try await client.fencedWrite("v7", to: "data:report", fencingToken: 7) == .accepted)
            #expect(try await client.fencedWrite("stale", to: "data:report", fencingToken: 6) == .rejected(highestToken: 7))
            let value = try #require(try await client.fencedRead("data:report"))
            #expect(value.string == "v7")
            #expect(value.highestToken == 7)
        }
    }

    /// Tokens compare as integers, not as their digits ("10" sorts before "9"), and exactly up
    /// to the documented bound 2^53 (where neighbours still differ as Lua's doubles), for
    /// writes and token-checked reads alike; an empty value is a value.
    @Test(arguments: BackendKind.allCases)
    func tokensCompareAsIntegersUpToTwoToThe53rd(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = env.client
            #expect(try await client.fencedWrite("ten", to: "n", fencingToken: 10) == .accepted)
            #expect(try await client.fencedWrite("nine", to: "n", fencingToken: 9) == .rejected(highestToken: 10))
            #expect(try await client.fencedRead("n", fencingToken: 9) == .rejected(highestToken: 10))
            #expect(try await client.fencedRead("n")?.string == "ten")
            let top: Int64 = 1 << 53
            #expect(try await client.fencedWrite("top", to: "big", fencingToken: top) == .accepted)
            #expect(try await client.fencedWrite("below", to: "big", fencingToken: top - 1) == .rejected(highestToken: top))
            #expect(try await client.fencedRead("big", fencingToken: top - 1) == .rejected(highestToken: top))
            #expect(try await client.fencedWrite("again", to: "big", fencingToken: top) == .accepted)
            #expect(try await client.fencedRead("big") == FencedValue(value: ByteBuffer(string: "again"), highestToken: top))
            await expectLockError(.invalidArgument) { _ = try await client.fencedWrite("over", to: "big", fencingToken: top + 1) }
            await expectLockError(.invalidArgument) { _ = try await client.fencedRead("big", fencingToken: top + 1) }
            #expect(try await client.fencedWrite(ByteBuffer(), to: "empty", fencingToken: 0) == .accepted)
            #expect(try await client.fencedRead("empty") == FencedValue(value: ByteBuffer(), highestToken: 0))
        }
    }

    @Test(arguments: BackendKind.allCases)
    func protectsAgainstAPausedHolder(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let paused = try await env.client.acquire("report", ttl: .milliseconds(150))
            try await env.pass(.milliseconds(300))
            let current = try await env.client.tryAcquire("report", ttl: .seconds(10))
            #expect(try await env.client.fencedWrite("new", to: "data", fencingToken: current.fencingToken) == .accepted)
            // The paused holder wakes up and writes with its old token: refused.
            let outcome = try await env.client.fencedWrite("old", to: "data", fencingToken: paused.fencingToken)
            #expect(outcome == .rejected(highestToken: current.fencingToken))
            #expect(try await env.client.fencedRead("data")?.string == "new")
        }
    }

    /// A read-modify-write that reads with its token: a stale holder's write can no longer land
    /// between the read and the write (with a plain read it could, and an update would be lost).
    @Test(arguments: BackendKind.allCases)
    func tokenCheckedReadFencesOutOlderWriters(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = env.client
            #expect(try await client.fencedRead("counter", fencingToken: 3) == .read(nil))
            #expect(try await client.fencedWrite("1", to: "counter", fencingToken: 2) == .rejected(highestToken: 3))
            #expect(try await client.fencedRead("counter") == nil, "the fence alone holds no value")
            #expect(try await client.fencedWrite("1", to: "counter", fencingToken: 3) == .accepted)
            // Holder 5 reads (raising the fence), holder 4 (paused, stale) then tries to write.
            guard case .read(let value?) = try await client.fencedRead("counter", fencingToken: 5) else {
                Issue.record("the token-checked read found no value")
                return
            }
            #expect(value.string == "1")
            #expect(value.highestToken == 3, "the token that wrote the value")
            #expect(try await client.fencedRead("counter")?.highestToken == 3, "the plain read answers the same")
            #expect(try await client.fencedWrite("2", to: "counter", fencingToken: 4) == .rejected(highestToken: 5))
            #expect(try await client.fencedRead("counter", fencingToken: 4) == .rejected(highestToken: 5))
            #expect(try await client.fencedWrite("2", to: "counter", fencingToken: 5) == .accepted)
            #expect(try await client.fencedRead("counter")?.string == "2")
            await expectLockError(.invalidArgument) { _ = try await client.fencedRead("counter", fencingToken: -1) }
        }
    }

    /// Fenced values share one key space with the locks, as on Redis: a lock or fence key of
    /// the backend's prefix that exists holds another type of value, so a fenced write or read
    /// of it is refused (Redis: WRONGTYPE) and changes nothing. The same names under another
    /// prefix are ordinary keys.
    @Test(arguments: BackendKind.allCases, ["locky:", "app:"])
    func aLockOrFenceKeyIsNoPlaceForAFencedValue(kind: BackendKind, prefix: String) async throws {
        try await withBackend(kind, prefix: prefix) { env throws in
            let client = env.client
            // Redis: WRONGTYPE; Redlock: every node refuses, too many for a quorum.
            let refused = LockError.Code.serverError
            let lease = try await client.tryAcquire("held", ttl: .seconds(30))
            for key in [env.keyspace.lockKey("held"), env.keyspace.fenceKey("held")] {
                await expectLockError(refused) { _ = try await client.fencedWrite("x", to: key, fencingToken: 1) }
                await expectLockError(refused) { _ = try await client.fencedRead(key) }
                await expectLockError(refused) { _ = try await client.fencedRead(key, fencingToken: 1) }
            }
            #expect(try await client.holder(of: "held")?.owner == lease.owner)
            #expect(try await client.release(lease) == .released)
            // The fence counter outlives the lock.
            await expectLockError(refused) {
                _ = try await client.fencedWrite("x", to: env.keyspace.fenceKey("held"), fencingToken: 1)
            }
            let other = try LockKeyspace(prefix: "elsewhere:")
            #expect(try await client.fencedWrite("x", to: other.fenceKey("held"), fencingToken: 1) == .accepted)
            #expect(try await client.fencedRead(other.fenceKey("held"))?.string == "x")
        }
    }

    /// A memory backend made from a configuration checks fenced keys against its prefix.
    @Test func aMemoryClientUsesTheConfiguredPrefix() async throws {
        let client = try LockClient(configuration: LockyConfiguration(backend: .memory, prefix: "app:"))
        let lease = try await client.tryAcquire("held", ttl: .seconds(30))
        await expectLockError(.serverError) { _ = try await client.fencedWrite("x", to: "app:{held}", fencingToken: 1) }
        #expect(try await client.fencedWrite("x", to: "locky:{held}", fencingToken: 1) == .accepted)
        #expect(try await client.release(lease) == .released)
    }

    /// A fair queue's key holds another type of value while waiters are queued (Redlock has
    /// no queue).
    @Test(arguments: queueingBackendKinds)
    func aQueueKeyIsNoPlaceForAFencedValue(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = env.client
            _ = try await client.tryAcquire("q", ttl: .seconds(30))
            try await env.backend.withWakeHandler(waiter: "feedface.1", { _ in }) {
                let reply = try await env.backend.acquireFair(
                    "q", owner: "waiting", ttl: .seconds(30), waiter: "feedface.1", waiterTTL: .seconds(30), attempt: 1)
                guard case .queued = reply else {
                    Issue.record("the waiter must be queued behind the holder: \(reply)")
                    return
                }
                let key = env.keyspace.queueKey("q")
                await expectLockError(.serverError) { _ = try await client.fencedWrite("x", to: key, fencingToken: 1) }
                await expectLockError(.serverError) { _ = try await client.fencedRead(key, fencingToken: 1) }
            }
        }
    }

    /// A fenced value written under the lock key of a free resource takes that key, as on
    /// Redis: it is no lock, so the resource reads as free and unlocks as not locked, and
    /// nothing may take it while it is there (acquire and lock fail with `serverError`, forced
    /// or not, and change nothing).
    @Test(arguments: BackendKind.allCases)
    func aFencedValueUnderAFreeLockKeyKeepsItsResourceFromBeingLocked(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = env.client
            let key = env.keyspace.lockKey("w")
            #expect(try await client.fencedWrite("x", to: key, fencingToken: 1) == .accepted)
            #expect(try await client.fencedRead(key)?.string == "x")
            await expectLockError(.serverError) { _ = try await client.tryAcquire("w", ttl: .seconds(30)) }
            await expectLockError(.serverError) { _ = try await client.tryAcquire(["v", "w"], ttl: .seconds(30)) }
            #expect(try await client.holder(of: "v") == nil, "a failed acquire took part of its resources")
            let locked = await expectLockError(.serverError) { _ = try await client.lock("w", locker: "l", force: true) }
            #expect(locked?.resource == "w")
            await expectLockError(.serverError) { _ = try await client.lock(["v", "w"], locker: "l") }
            #expect(try await client.holder(of: "v") == nil, "a failed lock took part of its resources")
            await expectLockError(.serverError) {
                _ = try await env.backend.extend(["w"], owner: "o", ttl: .seconds(30), mode: .resetTo)
            }
            if kind != .redlock {
                await expectLockError(.serverError) {
                    _ = try await env.backend.acquireFair(
                        "w", owner: "o", ttl: .seconds(30), waiter: "feedface.1", waiterTTL: .seconds(30), attempt: 1)
                }
            }
            #expect(try await client.holder(of: "w") == nil)
            #expect(try await client.unlock("w") == .notLocked)
            #expect(try await client.fencedRead(key)?.string == "x")
        }
    }

    /// An acquire refused for a key of another type took nothing (the scripts check before they
    /// write; Redlock gives back what other nodes took), so the client sends no unlock after
    /// it. Before, every such refusal cost one more round trip: an owner-checked unlock of
    /// every resource, also from a waiting acquire.
    @Test(arguments: BackendKind.allCases)
    func anAcquireRefusedForAForeignKeySendsNoUnlock(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = env.client
            #expect(try await client.fencedWrite("x", to: env.keyspace.lockKey("w"), fencingToken: 1) == .accepted)
            let unlocks = Atomic<Int>(0)
            env.backend.beforeUnlock { unlocks.add(1, ordering: .relaxed) }
            await expectLockError(.serverError) { _ = try await client.tryAcquire("w", ttl: .seconds(30)) }
            await expectLockError(.serverError) { _ = try await client.tryAcquire(["v", "w"], ttl: .seconds(30)) }
            await expectLockError(.serverError) { _ = try await client.acquire("w", ttl: .seconds(30), timeout: .seconds(5)) }
            await expectLockError(.serverError) {
                _ = try await client.acquire(["v", "w"], ttl: .seconds(30), timeout: .seconds(5))
            }
            #expect(unlocks.load(ordering: .relaxed) == 0)
            #expect(try await client.holder(of: "v") == nil)
        }
    }

    /// A fenced value written under the fence key of a resource never locked leaves no counter
    /// there (on Redis, a hash): its next token is unknown, so nothing may take the resource,
    /// and the call that finds it changes nothing. (On Redis a single acquire's INCR failed
    /// after its SET, leaving the lock taken; a batch read the hash as 0 and overwrote it.)
    @Test(arguments: BackendKind.allCases)
    func aFencedValueUnderAFenceKeyKeepsItsResourceFromBeingLocked(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = env.client
            let key = env.keyspace.fenceKey("f")
            // Redis: WRONGTYPE; Redlock: every node refuses, too many for a quorum.
            let refused = LockError.Code.serverError
            #expect(try await client.fencedWrite("x", to: key, fencingToken: 1) == .accepted)
            let single = await expectLockError(refused) { _ = try await client.tryAcquire("f", ttl: .seconds(30)) }
            await expectLockError(refused) { _ = try await client.tryAcquire(["e", "f"], ttl: .seconds(30)) }
            await expectLockError(refused) { _ = try await client.lock("f", locker: "l", force: true) }
            await expectLockError(refused) { _ = try await client.lock(["e", "f"], locker: "l") }
            #expect(single?.resource == "f")
            #expect(single?.message.contains("fence") == true, "\(String(describing: single))")
            if kind != .redlock {
                await expectLockError(.serverError) {
                    _ = try await env.backend.acquireFair(
                        "f", owner: "o", ttl: .seconds(30), waiter: "feedface.1", waiterTTL: .seconds(30), attempt: 1)
                }
            }
            for resource in ["e", "f"] {
                #expect(try await client.holder(of: resource) == nil, "a refused call took \(resource)")
            }
            #expect(try await client.fencedRead(key)?.string == "x")
            // The other resource's counter was not started by the refused calls.
            #expect(try await client.tryAcquire("e", ttl: .seconds(30)).fencingToken == 1)
        }
    }

    /// A token-checked read of a key without a value still raises its fence, which on Redis
    /// stores the hash (with a `fence` field alone): under the lock key of a free resource, or
    /// the fence key of one never locked, it keeps that resource from being locked just as a
    /// written value does, and the fence it raised holds for the next write.
    @Test(arguments: BackendKind.allCases)
    func aFenceRaisedAloneUnderALockOrFenceKeyKeepsItsResourceFromBeingLocked(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = env.client
            // Redis: WRONGTYPE; Redlock: every node refuses, too many for a quorum.
            let refused = LockError.Code.serverError
            let keys = ["w": env.keyspace.lockKey("w"), "f": env.keyspace.fenceKey("f")]
            for (_, key) in keys.sorted(by: { $0.key < $1.key }) {
                #expect(try await client.fencedRead(key, fencingToken: 4) == .read(nil))
                #expect(try await client.fencedRead(key) == nil, "the fence alone holds no value")
            }
            for resource in keys.keys.sorted() {
                await expectLockError(refused) { _ = try await client.tryAcquire(resource, ttl: .seconds(30)) }
                await expectLockError(refused) { _ = try await client.tryAcquire(["e", resource], ttl: .seconds(30)) }
                await expectLockError(refused) { _ = try await client.lock(resource, locker: "l", force: true) }
                #expect(try await client.holder(of: resource) == nil, "a refused call took \(resource)")
            }
            #expect(try await client.holder(of: "e") == nil, "a refused batch took part of its resources")
            for (_, key) in keys.sorted(by: { $0.key < $1.key }) {
                #expect(try await client.fencedWrite("x", to: key, fencingToken: 3) == .rejected(highestToken: 4))
                #expect(try await client.fencedWrite("x", to: key, fencingToken: 4) == .accepted)
                #expect(try await client.fencedRead(key)?.string == "x")
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func binaryValuesRoundTrip(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let bytes = ByteBuffer(bytes: [0, 1, 2, 255, 10, 13, 0])
            #expect(try await env.client.fencedWrite(bytes, to: "bin", fencingToken: 1) == .accepted)
            #expect(try await env.client.fencedRead("bin")?.value == bytes)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func rejectsBadArgumentsBeforeSending(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            await expectLockError(.invalidArgument) {
                _ = try await env.client.fencedWrite("x", to: "", fencingToken: 1)
            }
            await expectLockError(.invalidArgument) {
                _ = try await env.client.fencedWrite("x", to: "k", fencingToken: -1)
            }
            await expectLockError(.invalidArgument) {
                _ = try await env.client.fencedRead("")
            }
            #expect(env.backend.calls == 0)
        }
    }
}
