import Foundation
import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import NIOCore
import Testing

/// Locky under exactly the ACL that SECURITY.md documents (every feature works), and under
/// less (a clear, typed error at once: no hang, no crash, no lock left behind).
@Suite("Least privilege", .timeLimit(.minutes(3)))
struct LeastPrivilegeTests {
    static let password = "lp-\(UInt64.random(in: 1_000_000...9_999_999))-pw"

    /// A server whose user `locky` has exactly `acl`; the default user has an admin password.
    /// Keyspace notifications are configured in redis.conf, as SECURITY.md advises.
    static func withServer(_ acl: LeastPrivilegeACL, _ body: (RedisServer) async throws -> Void) async throws {
        let user = RedisServer.ACLUser(name: "locky", password: password, rules: acl.rules)
        let options = RedisServer.Options(
            password: "admin-\(password)", aclUsers: [user], extraConfiguration: ["notify-keyspace-events Ex"])
        try await RedisServer.withServer(options) { server throws in try await body(server) }
    }

    /// Locky as the ACL user; a long command timeout, so a refusal that came from the timeout
    /// instead of the server would show as slow.
    static func configuration(_ server: RedisServer, password: String = Self.password) throws -> LockyConfiguration {
        var redis = try RedisConfiguration(url: "redis://locky:\(password)@127.0.0.1:\(server.port)")
        redis.commandTimeout = .seconds(20)
        return LockyConfiguration(backend: .redis(redis), leaseTTL: .seconds(10), lockerTTL: .seconds(30), label: "lp")
    }

    /// Lock keys left in the server (fence counters are meant to stay; fair-queue keys expire on their own).
    static func lockKeys(_ server: RedisServer) throws -> [String] {
        let keyspace = try LockKeyspace()
        return try server.cli("KEYS", "locky:*").split(separator: "\n").map(String.init)
            .filter { keyspace.resource(ofLockKey: $0) != nil }.sorted()
    }

    @Test func securityDocumentHasThisACL() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("SECURITY.md"), encoding: .utf8)
        #expect(text.contains("ACL SETUSER locky on >CHANGE-ME " + LeastPrivilegeACL().rules + "\n"))
    }

    @Test func everyFeatureWorksUnderExactlyTheDocumentedACL() async throws {
        try await Self.withServer(LeastPrivilegeACL()) { server throws in
            // The user really is restricted.
            #expect(throws: RedisHarnessError.self) {
                try server.cli(arguments: ["FLUSHALL"], user: "locky", password: Self.password)
            }
            #expect(throws: RedisHarnessError.self) {
                try server.cli(arguments: ["GET", "x"], user: "locky", password: Self.password)
            }
            let events = Shared<[LockEvent]>([])
            try await LockClient.withClient(configuration: try Self.configuration(server)) { locks in
                try await locks.events { stream in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { for await event in stream { events.update { $0.append(event) } } }
                        defer { group.cancelAll() }
                        try await Self.workload(locks, server)
                        let complete = try await eventually(within: .seconds(5)) {
                            let seen = events.value.map(LockEventTests.describe)
                            return seen.contains("expired exp") && seen.contains("unlocked doc")
                        }
                        #expect(complete, "\(events.value.map(LockEventTests.describe))")
                    }
                }
            }
            let seen = events.value.map(LockEventTests.describe)
            // Without CONFIG the stream says so first; the events come all the same (redis.conf has them on).
            if case .error(let error) = events.value.first {
                #expect(error.code == .serverError)
                #expect(error.underlying?.serverError?.code == .noperm, "\(error)")
            } else {
                Issue.record("the stream did not start with the CONFIG error: \(seen)")
            }
            for expected in [
                "locked doc by lp for 5000 ms", "unlocked doc", "locked article:12 by user:20 for 30000 ms", "expired exp",
            ] {
                #expect(seen.contains(expected), "\(expected) missing from \(seen)")
            }
            #expect(try Self.lockKeys(server) == ["locky:{article:13}"])
        }
    }

    /// Everything Locky offers, through the ACL user.
    static func workload(_ locks: LockClient, _ server: RedisServer) async throws {
        // Lease API: acquire, extend both ways, busy with the holder, release; several resources.
        let lease = try await locks.tryAcquire("doc", ttl: .seconds(5))
        try await locks.extend(lease, toExpireIn: .seconds(5))
        try await locks.extend(lease, by: .seconds(1))
        let busy = await expectLockError(.busy) { _ = try await locks.tryAcquire("doc", ttl: .seconds(1)) }
        #expect(busy?.holder?.displayName == "lp")
        #expect(try await locks.release(lease) == .released)
        let pair = try await locks.tryAcquire(["a", "{grp}:b"], ttl: .seconds(5))
        #expect(try await locks.release(pair) == .released)

        // Locker API.
        let locked = try await locks.lock(["article:12", "article:13"], locker: "user:20")
        #expect(locked.allSatisfy { $0.outcome.isLocked })
        #expect(try await locks.lock("article:12", locker: "user:21").isLocked == false)
        #expect(try await locks.lock("article:12", locker: "user:21", force: true).isLocked)
        #expect(try await locks.refresh("article:12", locker: "user:21") == .refreshed)
        #expect(try await locks.refresh("article:13") == .refreshed)
        #expect(try await locks.locker(of: "article:12") == "user:21")
        let holders = try await locks.holders(of: ["article:12", "article:13", "free"])
        #expect(holders.map { $0.outcome?.displayName } == ["user:21", "user:20", nil])
        #expect(try await locks.unlock("article:12", locker: "user:21") == .unlocked)

        // Waiting acquire, woken by the release (not by the holder's 30 s TTL).
        try await waiterGetsItAtTheRelease(locks, server, "w", fair: false)

        // Fair mode: a waiter that gives up leaves the queue; the next one is woken by the release.
        let fairHolder = try await locks.tryAcquire("f", ttl: .seconds(30))
        await expectLockError(.timedOut) {
            _ = try await locks.acquire("f", ttl: .seconds(5), timeout: .milliseconds(300), fair: true)
        }
        async let fairWaited = locks.acquire("f", ttl: .seconds(5), timeout: .seconds(10), fair: true)
        try await waitUntilQueued(server, "f")
        #expect(try await locks.release(fairHolder) == .released)
        #expect(try await locks.release(try await fairWaited) == .released)

        // Fencing helper on a data key under the prefix.
        let guarded = try await locks.tryAcquire("invoice", ttl: .seconds(5))
        let key = "locky:data:invoice"
        #expect(try await locks.fencedWrite("v1", to: key, fencingToken: guarded.fencingToken) == .accepted)
        #expect(
            try await locks.fencedWrite("stale", to: key, fencingToken: guarded.fencingToken - 1)
                == .rejected(highestToken: guarded.fencingToken))
        let stored = try await locks.fencedRead(key)
        #expect(stored?.string == "v1")
        #expect(stored?.highestToken == guarded.fencingToken)
        // The token-checked read (a read-modify-write's first step) runs a script of its own.
        guard case .read(let checked) = try await locks.fencedRead(key, fencingToken: guarded.fencingToken) else {
            Issue.record("the token-checked read was rejected")
            return
        }
        #expect(checked?.string == "v1")
        #expect(
            try await locks.fencedRead(key, fencingToken: guarded.fencingToken - 1)
                == .rejected(highestToken: guarded.fencingToken))
        #expect(try await locks.release(guarded) == .released)

        // A waiting acquire of several resources (not queued: it listens on the event channel).
        let first = try await locks.tryAcquire("m1", ttl: .seconds(30))
        async let both = locks.acquire(["m1", "m2"], ttl: .seconds(5), timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await locks.release(first) == .released)
        #expect(try await locks.release(try await both) == .released)

        // Renewal: withLock outlives its TTL, and a lease handed to the renewal loop is renewed.
        let stillValid = try await locks.withLock("renewed", ttl: .milliseconds(300), timeout: .seconds(5)) { lease in
            try await Task.sleep(for: .seconds(1))
            return lease.isValid
        }
        #expect(stillValid)
        let kept = try await locks.tryAcquire("kept", ttl: .milliseconds(300))
        try locks.startRenewing(kept)
        let renewals = try await within(.seconds(5), "three renewals") {
            var renewals = 0
            for await state in kept.states() {
                guard case .renewed = state else { break }
                renewals += 1
                if renewals == 3 { break }
            }
            return renewals
        }
        #expect(renewals == 3)
        locks.stopRenewing(kept)
        #expect(try await locks.release(kept) == .released)

        // An expiry, for the events.
        _ = try await locks.tryAcquire("exp", ttl: .milliseconds(200))
        #expect(try await eventually(within: .seconds(3)) { try await locks.locker(of: "exp") == nil })
    }

    /// SECURITY.md's "another prefix or database": for prefix `app:` and database 2 the line's
    /// patterns become `~app:*`, `&app:events`, `&app:wake:*`, `&__keyevent@2__:expired`, plus
    /// `+select`. Locks, queued and fair waits (woken through the wake channels), the locker API,
    /// fencing and expired events all work under exactly that.
    @Test func anotherPrefixAndDatabaseWorkUnderTheSubstitutedACL() async throws {
        var acl = LeastPrivilegeACL().with(keys: ["~app:*"])
        acl.channels = ["&app:events", "&app:wake:*", "&__keyevent@2__:expired"]
        acl.commands.append("select")
        try await Self.withServer(acl) { server throws in
            var redis = try RedisConfiguration(url: "redis://locky:\(Self.password)@127.0.0.1:\(server.port)/2")
            redis.commandTimeout = .seconds(20)
            let configuration = LockyConfiguration(backend: .redis(redis), prefix: "app:", leaseTTL: .seconds(10), label: "lp")
            let events = Shared<[LockEvent]>([])
            try await LockClient.withClient(configuration: configuration) { locks in
                try await locks.events { stream in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { for await event in stream { events.update { $0.append(event) } } }
                        defer { group.cancelAll() }
                        let lease = try await locks.tryAcquire("doc", ttl: .seconds(5))
                        try await locks.extend(lease, by: .seconds(1))
                        #expect(try await locks.release(lease) == .released)
                        #expect(try await locks.lock("article:12", locker: "user:20").isLocked)
                        #expect(try await locks.unlock("article:12", locker: "user:20") == .unlocked)
                        for fair in [false, true] {
                            let holder = try await locks.tryAcquire("w", ttl: .seconds(30))
                            async let waited = locks.acquire("w", ttl: .seconds(5), timeout: .seconds(10), fair: fair)
                            let queued = try await eventually(within: .seconds(10)) {
                                try server.cli("-n", "2", "ZCARD", "app:{w}:queue") == "1"
                            }
                            #expect(queued, "fair: \(fair)")
                            #expect(try await locks.release(holder) == .released)
                            let next = try await waited
                            #expect(next.fencingToken == holder.fencingToken + 1)
                            #expect(try await locks.release(next) == .released)
                        }
                        let guarded = try await locks.tryAcquire("invoice", ttl: .seconds(5))
                        #expect(
                            try await locks.fencedWrite("v1", to: "app:data:invoice", fencingToken: guarded.fencingToken)
                                == .accepted)
                        #expect(try await locks.fencedRead("app:data:invoice")?.string == "v1")
                        #expect(try await locks.release(guarded) == .released)
                        _ = try await locks.tryAcquire("exp", ttl: .milliseconds(200))
                        let expired = try await eventually(within: .seconds(5)) {
                            events.value.map(LockEventTests.describe).contains("expired exp")
                        }
                        #expect(expired, "\(events.value.map(LockEventTests.describe))")
                    }
                }
            }
            #expect(try server.cli("-n", "2", "EXISTS", "app:{doc}:fence") == "1")
            #expect(try server.cli("DBSIZE") == "0", "database 0 was used")
        }
    }

    /// Without `PUBSUB NUMSUB` the fair hand-off cannot tell a live waiter from a gone one: a
    /// release then wakes the first waiter, which acquires on its own. Fair waiting still works.
    @Test func fairWaitingWorksWithoutPubSubNumsub() async throws {
        try await Self.withServer(LeastPrivilegeACL().without(command: "pubsub|numsub")) { server throws in
            try await LockClient.withClient(configuration: try Self.configuration(server)) { locks in
                try await Self.waiterGetsItAtTheRelease(locks, server, "f", fair: true)
            }
        }
    }

    /// Waits until a waiter is queued on `resource` (its queue's `ZCARD`, read as the admin):
    /// waiting of one resource queues in Redis, fair or not.
    static func waitUntilQueued(_ server: RedisServer, _ resource: String, sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        let queued = try await eventually(within: .seconds(10)) {
            try server.cli("ZCARD", "locky:{\(resource)}:queue") == "1"
        }
        try #require(queued, "no waiter queued on \(resource)", sourceLocation: sourceLocation)
    }

    /// A waiter behind a holder with a 30 s TTL gets the lock within 2 s of the release, with
    /// the next fencing token.
    static func waiterGetsItAtTheRelease(_ locks: LockClient, _ server: RedisServer, _ resource: String, fair: Bool)
        async throws
    {
        let holder = try await locks.tryAcquire(resource, ttl: .seconds(30))
        async let waited = locks.acquire(resource, ttl: .seconds(5), timeout: .seconds(10), fair: fair)
        try await waitUntilQueued(server, resource)
        let released = ContinuousClock.now
        #expect(try await locks.release(holder) == .released)
        let next = try await waited
        #expect(ContinuousClock.now - released < .seconds(2))
        #expect(next.fencingToken == holder.fencingToken + 1)
        #expect(try await locks.release(next) == .released)
    }

    /// One permission taken away, and a call that needs it.
    struct Reduced: Sendable, CustomTestStringConvertible {
        let name: String
        let acl: LeastPrivilegeACL
        let call: @Sendable (LockClient) async throws -> Void

        var testDescription: String { name }
    }

    static let reduced: [Reduced] = [
        Reduced(name: "no EVALSHA", acl: LeastPrivilegeACL().without(command: "evalsha")) {
            _ = try await $0.tryAcquire("r", ttl: .seconds(5))
        },
        Reduced(name: "no SCRIPT LOAD", acl: LeastPrivilegeACL().without(command: "script|load")) {
            _ = try await $0.lock("r", locker: "u")
        },
        Reduced(name: "no INCR (called inside the acquire script)", acl: LeastPrivilegeACL().without(command: "incr")) {
            _ = try await $0.tryAcquire("r", ttl: .seconds(5))
        },
        Reduced(name: "no PEXPIRE (extend)", acl: LeastPrivilegeACL().without(command: "pexpire")) { locks in
            let lease = try await locks.tryAcquire("r", ttl: .seconds(5))
            do {
                try await locks.extend(lease, by: .seconds(1))
            } catch {
                _ = try await locks.release(lease)
                throw error
            }
        },
        Reduced(name: "no HMGET (fenced read)", acl: LeastPrivilegeACL().without(command: "hmget")) {
            _ = try await $0.fencedRead("locky:data:x")
        },
        Reduced(name: "no SUBSCRIBE (waiting acquire)", acl: LeastPrivilegeACL().without(command: "subscribe")) {
            _ = try await $0.acquire("r", ttl: .seconds(5), timeout: .seconds(10))
        },
        Reduced(name: "no SUBSCRIBE (events)", acl: LeastPrivilegeACL().without(command: "subscribe")) {
            try await $0.events { _ in }
        },
        Reduced(name: "keys of another prefix", acl: LeastPrivilegeACL().with(keys: ["~other:*"])) {
            _ = try await $0.tryAcquire("r", ttl: .seconds(5))
        },
        Reduced(name: "keys of another prefix (locker API)", acl: LeastPrivilegeACL().with(keys: ["~other:*"])) {
            _ = try await $0.unlock("r")
        },
        Reduced(name: "no event channel (acquire publishes)", acl: LeastPrivilegeACL().without(channel: "&locky:events")) {
            _ = try await $0.tryAcquire("r", ttl: .seconds(5))
        },
        Reduced(name: "no event channel (waiting acquire)", acl: LeastPrivilegeACL().without(channel: "&locky:events")) {
            _ = try await $0.acquire("r", ttl: .seconds(5), timeout: .seconds(10))
        },
        Reduced(name: "no wake channels (fair waiting)", acl: LeastPrivilegeACL().without(channel: "&locky:wake:*")) {
            _ = try await $0.acquire("r", ttl: .seconds(5), timeout: .seconds(10), fair: true)
        },
        Reduced(
            name: "no expired channel (events)", acl: LeastPrivilegeACL().without(channel: "&__keyevent@0__:expired")
        ) {
            try await $0.events { _ in }
        },
    ]

    @Test(arguments: reduced)
    func lessPrivilegeFailsAtOnceWithATypedError(_ reduced: Reduced) async throws {
        try await Self.withServer(reduced.acl) { server throws in
            try await LockClient.withClient(configuration: try Self.configuration(server)) { locks in
                let started = ContinuousClock.now
                let error = await expectLockError(.serverError) {
                    try await within(.seconds(10)) { try await reduced.call(locks) }
                }
                let elapsed = ContinuousClock.now - started
                #expect(elapsed < .seconds(3), "the refusal took \(elapsed)")
                let serverError = try #require(error?.underlying?.serverError, "\(String(describing: error))")
                // NOPERM for the command itself; Redis 7.0 reports a refusal inside a script as ERR.
                let refusedInScript = serverError.code == .err && serverError.message.contains("user executing the script can't")
                #expect(serverError.code == .noperm || refusedInScript, "\(serverError)")
                #expect(error?.description.contains(Self.password) == false)
            }
            // A script refused half-way has not left a lock behind.
            #expect(try Self.lockKeys(server) == [])
        }
    }

    @Test func wrongPasswordIsATypedErrorEverywhere() async throws {
        try await Self.withServer(LeastPrivilegeACL()) { server throws in
            let wrong = "not-\(Self.password)"
            let calls: [(String, @Sendable (LockClient) async throws -> Void)] = [
                ("tryAcquire", { _ = try await $0.tryAcquire("r", ttl: .seconds(5)) }),
                ("waiting acquire", { _ = try await $0.acquire("r", ttl: .seconds(5), timeout: .seconds(10)) }),
                ("fair acquire", { _ = try await $0.acquire("r", ttl: .seconds(5), timeout: .seconds(10), fair: true) }),
                ("lock", { _ = try await $0.lock("r", locker: "u") }),
                ("events", { try await $0.events { _ in } }),
                ("tryAcquire again", { _ = try await $0.tryAcquire("r", ttl: .seconds(5)) }),
            ]
            try await LockClient.withClient(configuration: try Self.configuration(server, password: wrong)) { locks in
                for (name, call) in calls {
                    let started = ContinuousClock.now
                    let error = await expectLockError(.authenticationFailed) {
                        try await within(.seconds(10)) { try await call(locks) }
                    }
                    let elapsed = ContinuousClock.now - started
                    #expect(elapsed < .seconds(3), "\(name): the refusal took \(elapsed)")
                    // The first failure is the client's `authenticationFailed`; one during the
                    // reconnect backoff wraps it in `unavailable`: the lock error is the same.
                    let cause = error?.underlying.flatMap { $0.code == .unavailable ? $0.underlying as? RedisClientError : $0 }
                    #expect(cause?.code == .authenticationFailed, "\(name): \(String(describing: error))")
                    #expect(cause?.serverError?.code == .wrongpass, "\(name): \(String(describing: error))")
                    #expect(error.map { "\($0)" }?.contains(wrong) == false, "\(name): the password is in the error")
                }
            }
            #expect(try Self.lockKeys(server) == [])
        }
    }
}
