import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Logging
import NIOCore
import Testing

@testable import Locky

/// What only the Redis backend promises: the documented key layout, interop with other Redlock
/// clients, failures of the server.
@Suite("Redis backend")
struct RedisBackendTests {
    @Test func keyLayoutIsDocumented() async throws {
        try await withBackend(.redis) { env throws in
            let server = try #require(env.server)
            let lease = try await env.client.acquire("R", ttl: .seconds(10), label: "me")
            #expect(try server.cli("TYPE", "locky:{R}") == "string")
            #expect(try server.cli("GET", "locky:{R}") == lease.owner)
            let pttl = try #require(Int(try server.cli("PTTL", "locky:{R}")))
            #expect(pttl > 9_000 && pttl <= 10_000)
            #expect(try server.cli("GET", "locky:{R}:fence") == "\(lease.fencingToken)")
            #expect(try server.cli("PTTL", "locky:{R}:fence") == "-1")
            // Nothing else was written.
            #expect(Set(try server.cli("KEYS", "*").split(separator: "\n")) == ["locky:{R}", "locky:{R}:fence"])

            // A resource with its own hash tag keeps it, so resources can share a slot.
            let grouped = try await env.client.acquire(["{grp}:a", "{grp}:b"], ttl: .seconds(10))
            #expect(try server.cli("GET", "locky:{grp}:a") == grouped.owner)
            #expect(try server.cli("GET", "locky:{grp}:b") == grouped.owner)
            #expect(try server.cli("GET", "locky:{grp}:a:fence") == "1")

            // The keyspace maps both ways.
            #expect(env.keyspace.lockKey("R") == "locky:{R}")
            #expect(env.keyspace.fenceKey("R") == "locky:{R}:fence")
            #expect(env.keyspace.lockKey("{grp}:a") == "locky:{grp}:a")
            #expect(env.keyspace.resource(ofLockKey: "locky:{R}") == "R")
            #expect(env.keyspace.resource(ofLockKey: "locky:{grp}:a") == "{grp}:a")
            #expect(env.keyspace.resource(ofLockKey: "locky:{R}:fence") == nil)
            #expect(env.keyspace.resource(ofLockKey: "other:{R}") == nil)
            // Bytes, not Characters: a combining mark joins the prefix's colon; U+0600 the fence's.
            #expect(env.keyspace.resource(ofLockKey: "locky:\u{301}{t}:x") == "\u{301}{t}:x")
            #expect(env.keyspace.resource(ofLockKey: "locky:{t}:x\u{600}:fence") == nil)
            #expect(env.keyspace.resource(ofLockKey: "locky:{a}\u{600}}") == "a}\u{600}")
        }
    }

    @Test func lockerKeysHoldTheLockerId() async throws {
        try await withBackend(.redis) { env throws in
            let server = try #require(env.server)
            _ = try await env.client.lock("article:12", locker: "user:20")
            #expect(try server.cli("GET", "locky:{article:12}") == "user:20")
            #expect(try server.cli("PTTL", "locky:{article:12}") == "-1")
        }
    }

    /// A plain `SET key value NX PX` (what redis-py's `Lock`, node-redlock and redsync send)
    /// and Locky exclude each other.
    @Test func interoperatesWithPlainRedlockClients() async throws {
        try await withBackend(.redis) { env throws in
            let server = try #require(env.server)
            #expect(try server.cli("SET", "locky:{R}", "someone", "NX", "PX", "10000") == "OK")
            let error = await expectLockError(.busy) {
                _ = try await env.client.tryAcquire("R", ttl: .seconds(5))
            }
            #expect(error?.holder?.owner == "someone")
            #expect(error?.holder?.displayName == "someone")
            let remaining = try #require(error?.holder?.remaining)
            #expect(remaining > .seconds(9) && remaining <= .seconds(10))
            guard case .busy(let holder) = try await env.client.lock("R", locker: "me") else {
                Issue.record("locker took a foreign lock")
                return
            }
            #expect(holder.owner == "someone")
            #expect(try await env.client.locker(of: "R") == "someone")
            // The foreign client releases with its own compare-and-delete; Locky can take it then.
            #expect(try server.cli("DEL", "locky:{R}") == "1")
            let lease = try await env.client.tryAcquire("R", ttl: .seconds(5))
            // Locky's lock makes the foreign SET NX fail (redis-cli prints nil as an empty line).
            #expect(try server.cli("SET", "locky:{R}", "someone", "NX", "PX", "10000") == "")
            #expect(try server.cli("GET", "locky:{R}") == lease.owner)
            // A foreign owner-checked release (GET + compare) sees Locky's owner string.
            #expect(
                try server.cli(
                    "EVAL", "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", "1",
                    "locky:{R}", lease.owner) == "1")
            #expect(try await env.client.release(lease) == .alreadyExpired)
        }
    }

    @Test func customPrefix() async throws {
        try await withBackend(.redis, prefix: "app:locks:") { env throws in
            let server = try #require(env.server)
            let lease = try await env.client.acquire("R", ttl: .seconds(10))
            #expect(try server.cli("GET", "app:locks:{R}") == lease.owner)
            #expect(try server.cli("EXISTS", "locky:{R}") == "0")
            #expect(try server.cli("GET", "app:locks:{R}:fence") == "1")
        }
    }

    @Test func customPrefixThroughTheConfiguration() async throws {
        try await RedisServer.withServer { server throws in
            var configuration = try LockyConfiguration(url: server.url)
            configuration.prefix = "tenant-7:"
            let client = try LockClient(configuration: configuration)
            let lease = try await client.acquire("R", ttl: .seconds(10))
            #expect(try server.cli("GET", "tenant-7:{R}") == lease.owner)
            #expect(try await client.release(lease) == .released)
            #expect(try server.cli("DBSIZE") == "1")
            await client.close()
        }
    }

    @Test func aDatabaseTheServerLacksIsAServerErrorThatSaysSo() async throws {
        try await RedisServer.withServer { server throws in
            try await LockClient.withClient(configuration: try LockyConfiguration(url: server.url + "/16")) { locks in
                let error = await expectLockError(.serverError) { _ = try await locks.tryAcquire("r", ttl: .seconds(1)) }
                #expect(error?.message.contains("refused database 16") == true, "\(String(describing: error))")
                #expect(error?.underlying?.code == .configurationRejected, "\(String(describing: error))")
                // While the client backs off after the refusal, the waiting acquire says the same.
                let waiting = await expectLockError(.serverError) {
                    _ = try await locks.acquire("r", ttl: .seconds(1), timeout: .seconds(1))
                }
                #expect(waiting?.message.contains("refused database 16") == true, "\(String(describing: waiting))")
            }
            #expect(try server.cli("DBSIZE") == "0")
        }
    }

    @Test func invalidPrefixIsRejected() async throws {
        for prefix in ["a{b", "c}", String(repeating: "p", count: LockLimits.maximumPrefixLength + 1)] {
            let keyspaceError = #expect(throws: LockError.self) { _ = try LockKeyspace(prefix: prefix) }
            #expect(keyspaceError?.code == .invalidArgument)
            var configuration = LockyConfiguration(backend: .memory)
            configuration.prefix = prefix
            let error = #expect(throws: LockError.self) { _ = try LockClient(configuration: configuration) }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test func closedPortIsBackendUnavailableNotBusy() async throws {
        let port = try FreePort.next()
        var redis = try RedisConfiguration(url: "redis://127.0.0.1:\(port)")
        redis.connectTimeout = .milliseconds(500)
        redis.commandTimeout = .milliseconds(500)
        let client = try LockClient(configuration: LockyConfiguration(backend: .redis(redis)))
        let started = ContinuousClock.now
        let error = await expectLockError(.backendUnavailable) {
            _ = try await client.tryAcquire("R", ttl: .seconds(1))
        }
        #expect(error?.underlying != nil)
        #expect(error?.holder == nil)
        // Retries are for contention, not outages: a waiting acquire fails fast too.
        await expectLockError(.backendUnavailable) {
            _ = try await client.acquire("R", ttl: .seconds(1), retry: RetryPolicy(count: 50, delay: .milliseconds(100)))
        }
        await expectLockError(.backendUnavailable) { _ = try await client.lock("R", locker: "u") }
        await expectLockError(.backendUnavailable) { _ = try await client.locker(of: "R") }
        #expect(ContinuousClock.now - started < .seconds(5))
        await client.close()
    }

    @Test func serverKilledDuringAHoldThenRestarted() async throws {
        try await RedisServer.withServer { server throws in
            var redis = try RedisConfiguration(url: server.url)
            redis.connectTimeout = .milliseconds(500)
            redis.commandTimeout = .seconds(1)
            let client = try LockClient(configuration: LockyConfiguration(backend: .redis(redis)))
            let lease = try await client.acquire("R", ttl: .seconds(30))
            server.kill()
            await expectLockError(.backendUnavailable) { try await client.extend(lease, by: .seconds(5)) }
            await expectLockError(.backendUnavailable) { _ = try await client.tryAcquire("S", ttl: .seconds(5)) }
            try await server.restart()
            // The client reconnects by itself; the server came back empty (no persistence).
            let next = try await client.tryAcquire("R", ttl: .seconds(5))
            #expect(try server.cli("GET", "locky:{R}") == next.owner)
            #expect(try await client.release(lease) == .alreadyExpired)
            #expect(try await client.release(next) == .released)
            await client.close()
        }
    }

    /// A server that answered once and then restarts during a wait is a blip, not the end of
    /// the wait: the waiter retries (`retry.delay` apart, `retry.count` failures in a row) and
    /// takes the lock, which came back free (no persistence).
    @Test(arguments: [false, true]) func waitingAcquireRidesOutARestart(fair: Bool) async throws {
        try await RedisServer.withServer { server throws in
            var redis = try RedisConfiguration(url: server.url)
            redis.connectTimeout = .milliseconds(500)
            redis.commandTimeout = .seconds(1)
            var configuration = LockyConfiguration(backend: .redis(redis))
            configuration.retry = RetryPolicy(count: 20, delay: .milliseconds(100), jitter: .milliseconds(20))
            let holder = try LockClient(configuration: configuration)
            let waiter = try LockClient(configuration: configuration)
            _ = try await holder.acquire("R", ttl: .seconds(60))
            try await withThrowingTaskGroup(of: Lease.self) { group in
                group.addTask { try await waiter.acquire("R", ttl: .seconds(10), timeout: .seconds(20), fair: fair) }
                // Waiting: queued in Redis behind the holder.
                #expect(try await eventually { try server.cli("ZCARD", "locky:{R}:queue") == "1" })
                server.kill()
                // Longer than a queued waiter's refresh interval (2 s / 3): it tries while down.
                try await Task.sleep(for: .milliseconds(1200))
                try await server.restart()
                // The waiter's own timeout (20 s) bounds this; the lock is free within a second.
                let lease = try #require(try await group.next())
                #expect(try server.cli("GET", "locky:{R}") == lease.owner)
                #expect(lease.isValid)
            }
            await holder.close()
            await waiter.close()
        }
    }

    /// A restart that outlasts `retry.count` failed attempts in a row ends the wait with the
    /// connection error, not `timedOut` and not a hang until the deadline.
    @Test func waitingAcquireGivesUpOnALongOutage() async throws {
        try await RedisServer.withServer { server throws in
            var redis = try RedisConfiguration(url: server.url)
            redis.connectTimeout = .milliseconds(300)
            redis.commandTimeout = .seconds(1)
            var configuration = LockyConfiguration(backend: .redis(redis))
            configuration.retry = RetryPolicy(count: 3, delay: .milliseconds(100), jitter: .zero)
            let holder = try LockClient(configuration: configuration)
            let waiter = try LockClient(configuration: configuration)
            _ = try await holder.acquire("R", ttl: .seconds(60))
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    await expectLockError(.backendUnavailable) {
                        _ = try await waiter.acquire("R", ttl: .seconds(10), timeout: .seconds(60))
                    }
                }
                #expect(try await eventually { try server.cli("ZCARD", "locky:{R}:queue") == "1" })
                server.kill()
                try await group.next()
            }
            #expect(ContinuousClock.now - started < .seconds(10))
            await holder.close()
            await waiter.close()
        }
    }

    @Test func persistentServerKeepsLocksAndFencingAcrossRestart() async throws {
        try await RedisServer.withServer(.init(persistence: true)) { server throws in
            var redis = try RedisConfiguration(url: server.url)
            redis.connectTimeout = .milliseconds(500)
            let client = try LockClient(configuration: LockyConfiguration(backend: .redis(redis)))
            let lease = try await client.acquire("R", ttl: .seconds(30), label: "survivor")
            server.kill()
            try await server.restart()
            let error = await expectLockError(.busy) { _ = try await client.tryAcquire("R", ttl: .seconds(5)) }
            #expect(error?.holder?.displayName == "survivor")
            #expect(try await client.release(lease) == .released)
            let next = try await client.tryAcquire("R", ttl: .seconds(5))
            #expect(next.fencingToken > lease.fencingToken)
            await client.close()
        }
    }

    @Test func customRedisClientIsUsedAndLeftOpen() async throws {
        try await RedisServer.withServer { server throws in
            var redis = try RedisConfiguration(url: server.url)
            redis.clientName = "my-app"
            redis.database = 3
            let connection = try RedisClient(configuration: redis)
            let backend = RedisLockBackend(client: connection, keyspace: try LockKeyspace(prefix: "mine:"))
            let client = try LockClient(backend: backend)
            let lease = try await client.acquire("R", ttl: .seconds(10))
            #expect(try server.cli("-n", "3", "GET", "mine:{R}") == lease.owner)
            #expect(try server.cli("DBSIZE") == "0")
            #expect(try server.cli("CLIENT", "LIST").contains("name=my-app"))
            #expect(try await client.release(lease) == .released)
            // Closing the lock client leaves a connection it does not own open.
            await client.close()
            let pong = try await connection.execute(RESPCommand("PING"))
            #expect(pong.stringValue == "PONG")
            await connection.close()
        }
    }

    /// A fence key that holds a string which is no integer (another application's, or one
    /// written by hand): no call takes the resource, and the one that finds it changes nothing.
    /// Before, a single acquire's INCR failed after its SET (the lock stayed taken behind a
    /// server error), and a batch read the string as 0 and started the tokens over at 1.
    @Test(arguments: ["abc", "1.5", "", "inf"])
    func aFenceKeyThatHoldsNoCounterIsNotOverwritten(value: String) async throws {
        try await withBackend(.redis) { env throws in
            let server = try #require(env.server)
            let redis = try #require(env.backend.inner as? RedisLockBackend)
            #expect(try server.cli("SET", "locky:{n}:fence", value) == "OK")
            for resources in [["n"], ["m", "n"], ["n", "m"]] {
                let error = await expectLockError(.serverError) {
                    _ = try await env.client.tryAcquire(resources, ttl: .seconds(9))
                }
                #expect(error?.resource == "n")
                #expect(error?.message.contains("fence key") == true, "\(String(describing: error))")
                await expectLockError(.serverError) { _ = try await env.client.lock(resources, locker: "l", force: true) }
                #expect(try server.cli("EXISTS", "locky:{n}", "locky:{m}", "locky:{m}:fence") == "0", "\(resources)")
            }
            #expect(try server.cli("GET", "locky:{n}:fence") == value)

            // The owner re-acquiring what it holds: its TTL is left as it was.
            #expect(try server.cli("DEL", "locky:{n}:fence") == "1")
            #expect(try await redis.acquire(["n"], owner: "me", ttl: .seconds(600)) == .acquired(fencingTokens: [1]))
            #expect(try server.cli("SET", "locky:{n}:fence", value) == "OK")
            for resources in [["n"], ["m", "n"]] {
                await expectLockError(.serverError) { _ = try await redis.acquire(resources, owner: "me", ttl: .seconds(1)) }
                #expect(try #require(Int(try server.cli("PTTL", "locky:{n}"))) > 500_000)
            }
            let relocked = await expectLockError(.serverError) {
                _ = try await redis.lock(["n"], locker: "me", ttl: .seconds(1), force: false)
            }
            #expect(relocked?.resource == "n")
            #expect(try #require(Int(try server.cli("PTTL", "locky:{n}"))) > 500_000)

            // Another owner finds it busy; the holder's token is reported as 0, unknown.
            for resources in [["n"], ["m", "n"]] {
                guard case .busy(_, let holder) = try await redis.acquire(resources, owner: "you", ttl: .seconds(1)) else {
                    Issue.record("\(resources) were taken from their holder")
                    continue
                }
                #expect(holder.owner == "me")
                #expect(holder.fencingToken == 0)
            }
        }
    }

    /// A release that would hand the lock to a fair waiter while the fence key holds no counter
    /// does not (its token is unknown): the release succeeds, and the waiter is woken and told
    /// what is wrong at once, instead of the release failing halfway (the lock set for the
    /// waiter, the waiter never told) and the waiter sleeping until its timeout.
    @Test func aHandOffWithoutACounterWakesTheWaiterWithTheError() async throws {
        try await withBackend(.redis, clock: .system) { env throws in
            let server = try #require(env.server)
            let holder = try await env.client.tryAcquire("h", ttl: .seconds(30))
            let other = try env.otherProcessClient()
            let started = ContinuousClock.now
            async let waiting: LockError? = {
                do {
                    _ = try await other.acquire("h", ttl: .seconds(30), timeout: .seconds(20), fair: true)
                    return nil
                } catch let error as LockError {
                    return error
                } catch {
                    return nil
                }
            }()
            try await env.waitUntilQueued("h", 1)
            #expect(try server.cli("SET", "locky:{h}:fence", "abc") == "OK")
            #expect(try await env.client.release(holder) == .released)
            let error = await waiting
            #expect(error?.code == .serverError)
            #expect(error?.message.contains("fence key") == true, "\(String(describing: error))")
            #expect(ContinuousClock.now - started < .seconds(10), "the waiter slept until its timeout")
            #expect(try server.cli("EXISTS", "locky:{h}") == "0")
            #expect(try server.cli("GET", "locky:{h}:fence") == "abc")
            await other.close()
        }
    }

    /// A key of another type where the lock should be is not Locky's to overwrite.
    @Test func foreignKeyOfAnotherTypeIsNotOverwritten() async throws {
        try await withBackend(.redis) { env throws in
            let server = try #require(env.server)
            #expect(try server.cli("HSET", "locky:{R}", "field", "value") == "1")
            let error = await expectLockError(.serverError) {
                _ = try await env.client.tryAcquire("R", ttl: .seconds(1))
            }
            #expect(error?.resource == "R")
            #expect(try server.cli("TYPE", "locky:{R}") == "hash")
            #expect(try server.cli("EXISTS", "locky:{R}:fence") == "0")

            // In a batch (whose all-free fast path the foreign key must not take): the error
            // names it, and no other key of the batch is set or counted.
            let batchError = await expectLockError(.serverError) {
                _ = try await env.client.tryAcquire(["A", "R", "B"], ttl: .seconds(1))
            }
            #expect(batchError?.resource == "R")
            #expect(try server.cli("TYPE", "locky:{R}") == "hash")
            #expect(try server.cli("EXISTS", "locky:{A}", "locky:{B}", "locky:{A}:fence", "locky:{B}:fence") == "0")

            // The same with a resource the owner already holds (the general path): its TTL is
            // left as it was, not reset before the foreign key is found.
            let redis = try #require(env.backend.inner as? RedisLockBackend)
            #expect(try await redis.acquire(["A"], owner: "me", ttl: .seconds(600)) == .acquired(fencingTokens: [1]))
            await expectLockError(.serverError) { _ = try await redis.acquire(["A", "R"], owner: "me", ttl: .seconds(1)) }
            #expect(try #require(Int(try server.cli("PTTL", "locky:{A}"))) > 500_000)
            #expect(try server.cli("GET", "locky:{A}:fence") == "1")

            // Refresh answers "not locked" for it and refreshes the others, instead of failing
            // after it changed the keys before it.
            let refreshed = try await redis.refresh(["A", "R"], locker: "me", ttl: .seconds(5))
            #expect(refreshed == [.refreshed, .notLocked])
            #expect(try #require(Int(try server.cli("PTTL", "locky:{A}"))) <= 5_000)

            // A renewal that re-creates missing keys (Redlock) leaves it alone too.
            var recreating = redis
            recreating.recreatesMissingLocks = true
            #expect(try await recreating.renew([RenewalItem(resource: "R", owner: "me", ttl: .seconds(1))]) == [.missing])
            #expect(try server.cli("TYPE", "locky:{R}") == "hash")
        }
    }

    @Test func binaryResourceNamesMapToTheDocumentedKey() async throws {
        try await withBackend(.redis) { env throws in
            let raw = try #require(env.raw)
            for name in ["nul\0byte", "line\nbreak", "emoji 🔒", "{grp}:x\0y"] {
                let lease = try await env.client.acquire(name, ttl: .seconds(10))
                let key = name.hasPrefix("{grp}") ? "locky:" + name : "locky:{" + name + "}"
                #expect(env.keyspace.lockKey(name) == key)
                let stored = try await raw.execute(RESPCommand("GET", key))
                #expect(stored.stringValue == lease.owner, "\(name.debugDescription)")
                let fence = try await raw.execute(RESPCommand("GET", key + ":fence"))
                #expect(fence.stringValue == "1")
            }
            // "nul\0byte" and "nul" are different keys.
            let exists = try await raw.execute(RESPCommand("EXISTS", "locky:{nul}"))
            #expect(exists.value == .number(0))
        }
    }
}
