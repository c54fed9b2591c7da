import LockyRESP
import LockyRedis
import LockyTestSupport
import NIOCore
import Testing

@testable import Locky

/// A backend over Redis clients its owner manages (``RedisLockBackend/init(client:keyspace:)``,
/// ``RedlockBackend/init(clients:keyspace:nodeTimeout:recreateMissingLocks:logger:)``): closing
/// it leaves the clients open for their owner, but the backend refuses every call from then on
/// with the closed client's error and sends nothing more through them. Before, such a backend
/// ignored `close()`: every call after it still reached the servers.
@Suite("Borrowed client close", .timeLimit(.minutes(2)))
struct BorrowedClientCloseTests {
    /// Servers, the owner's clients, a backend over them, and a client over that backend.
    private struct Borrowed {
        let servers: [RedisServer]
        let clients: [RedisClient]
        let backend: any LockBackend
        let locks: LockClient
        let keyspace: LockKeyspace
    }

    /// Runs `body` with a backend of `kind` (Redis: one server; Redlock: three) over clients
    /// the test owns, closed (with the servers stopped) afterwards.
    private static func withBorrowed(_ kind: BackendKind, _ body: (Borrowed) async throws -> Void) async throws {
        let servers = try await RedisServer.startMany(kind == .redlock ? 3 : 1)
        var clients: [RedisClient] = []
        do {
            for server in servers { clients.append(try RedisClient(configuration: RedisConfiguration(url: server.url))) }
            let keyspace = try LockKeyspace(prefix: "borrowed:")
            let backend: any LockBackend =
                kind == .redlock
                ? try RedlockBackend(clients: clients, keyspace: keyspace, nodeTimeout: .milliseconds(500))
                : RedisLockBackend(client: clients[0], keyspace: keyspace)
            try await body(
                Borrowed(
                    servers: servers, clients: clients, backend: backend, locks: try LockClient(backend: backend),
                    keyspace: keyspace))
        } catch {
            for client in clients { await client.close() }
            for server in servers { await server.stop() }
            throw error
        }
        for client in clients { await client.close() }
        for server in servers { await server.stop() }
    }

    /// Every command each server has run (`INFO commandstats`, without the `INFO` calls that read it).
    private static func commandStats(_ servers: [RedisServer]) throws -> [[String: String]] {
        try servers.map { server in
            var stats: [String: String] = [:]
            for line in try server.cli("INFO", "commandstats").split(whereSeparator: \.isNewline)
            where line.hasPrefix("cmdstat_") && !line.hasPrefix("cmdstat_info:") {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                // The counts, not the times.
                stats[String(parts[0])] = parts[1].split(separator: ",").filter { !$0.hasPrefix("usec") }.joined(
                    separator: ",")
            }
            return stats
        }
    }

    /// Whether `error` is a closed client's, unsent: on one node `closed` underneath (as a
    /// `LockError` or the `RedisClientError` itself); on Redlock `quorumNotReached` with every
    /// node failing so.
    private static func isClosedError(_ error: any Error) -> Bool {
        if let error = error as? RedisClientError { return error.code == .closed && !error.mayHaveRun }
        guard let error = error as? LockError else { return false }
        if error.code == .quorumNotReached {
            return !error.nodes.isEmpty
                && error.nodes.allSatisfy { node in
                    if case .failed(let nodeError) = node.result { return nodeError.underlying?.code == .closed }
                    return false
                }
        }
        return error.code == .backendUnavailable && error.underlying?.code == .closed
            && error.underlying?.mayHaveRun == false
    }

    /// Runs `call` on the closed backend: it fails at once with the closed client's error.
    private static func expectRefused(
        _ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ call: @escaping @Sendable () async throws -> Void
    ) async {
        let started = ContinuousClock.now
        do {
            try await within(.seconds(5), what) { try await call() }
            Issue.record("\(what) succeeded after close", sourceLocation: sourceLocation)
        } catch {
            #expect(isClosedError(error), "\(what): \(error)", sourceLocation: sourceLocation)
        }
        let took = ContinuousClock.now - started
        #expect(took < .seconds(1), "\(what) took \(took) to fail", sourceLocation: sourceLocation)
    }

    /// After `LockClient.close()` every call of the lease API, the locker API, the fencing
    /// helpers, listings, events and the backend's own operations (renew, fair queue, wake-ups,
    /// fence raising, keyspace setup) fails at once with the closed client's error and sends
    /// nothing: each server ran no command since (INFO commandstats), and the stored locks are
    /// as they were. The borrowed clients stay open and work for their owner. A waiting acquire
    /// in progress at close ends at once with that error.
    @Test(arguments: [BackendKind.redis, .redlock])
    func aClosedBackendOverBorrowedClientsRefusesAndSendsNothing(kind: BackendKind) async throws {
        try await Self.withBorrowed(kind) { env throws in
            let locks = env.locks
            let backend = env.backend
            let lease = try await locks.tryAcquire("held", ttl: .seconds(30))
            guard case .acquired = try await locks.lock("locked", locker: "user-1") else {
                Issue.record("the locker lock was not taken")
                return
            }
            _ = try await locks.fencedWrite("v1", to: "data", fencingToken: lease.fencingToken)
            let waiter = Task { try await locks.acquire("held", ttl: .seconds(5), timeout: .seconds(20)) }
            defer { waiter.cancel() }
            // Waiting: queued behind the holder (Redis) or subscribed to its events (Redlock).
            try await Task.sleep(for: .milliseconds(300))

            let closed = ContinuousClock.now
            await locks.close()
            do {
                _ = try await within(.seconds(5), "the waiter after close") { try await waiter.value }
                Issue.record("the waiter acquired after close")
            } catch {
                #expect(Self.isClosedError(error), "the waiter: \(error)")
            }
            let ended = ContinuousClock.now - closed
            #expect(ended < .seconds(1), "the waiter ended \(ended) after close")
            // The waiter's own subscription has ended (its unsubscribe is the last it sends).
            try await Task.sleep(for: .milliseconds(200))
            let before = try Self.commandStats(env.servers)

            await Self.expectRefused("tryAcquire") { _ = try await locks.tryAcquire("new", ttl: .seconds(5)) }
            await Self.expectRefused("acquire with retries") { _ = try await locks.acquire("new", ttl: .seconds(5), retry: nil) }
            await Self.expectRefused("waiting acquire") {
                _ = try await locks.acquire("new", ttl: .seconds(5), timeout: .seconds(3))
            }
            if kind == .redis {
                await Self.expectRefused("fair acquire") {
                    _ = try await locks.acquire("new", ttl: .seconds(5), timeout: .seconds(3), fair: true)
                }
            }
            await Self.expectRefused("extend") { try await locks.extend(lease, toExpireIn: .seconds(40)) }
            await Self.expectRefused("extend by") { try await locks.extend(lease, by: .seconds(10)) }
            await Self.expectRefused("release") { _ = try await locks.release(lease) }
            await Self.expectRefused("lock") { _ = try await locks.lock("other", locker: "user-2") }
            await Self.expectRefused("refresh") { _ = try await locks.refresh("locked", locker: "user-1") }
            await Self.expectRefused("unlock") { _ = try await locks.unlock("locked") }
            await Self.expectRefused("locker(of:)") { _ = try await locks.locker(of: "locked") }
            await Self.expectRefused("holders(of:)") { _ = try await locks.holders(of: ["held", "locked"]) }
            await Self.expectRefused("heldLocks") { _ = try await locks.heldLocks() }
            await Self.expectRefused("withLock") { _ = try await locks.withLock("scoped", ttl: .seconds(5)) { _ in 1 } }
            await Self.expectRefused("fencedWrite") {
                _ = try await locks.fencedWrite("v2", to: "data", fencingToken: lease.fencingToken)
            }
            await Self.expectRefused("fencedRead") { _ = try await locks.fencedRead("data") }
            await Self.expectRefused("fencedRead with a token") {
                _ = try await locks.fencedRead("data", fencingToken: lease.fencingToken)
            }
            await Self.expectRefused("renew") {
                _ = try await backend.renew([RenewalItem(resource: "held", owner: lease.owner, ttl: .seconds(40))])
            }
            await Self.expectRefused("lockedResources") { _ = try await backend.lockedResources() }
            await Self.expectRefused("holders") { _ = try await backend.holders(["held"]) }
            if let redis = backend as? RedisLockBackend {
                await Self.expectRefused("raiseFences") { try await redis.raiseFences(["held"], to: [1000]) }
                await Self.expectRefused("acquireFair") {
                    _ = try await redis.acquireFair(
                        "new", owner: "o", ttl: .seconds(5), waiter: "w", waiterTTL: .seconds(2), attempt: 1)
                }
                await Self.expectRefused("leaveQueue") { try await redis.leaveQueue("new", waiter: "w", owner: "o") }
                // Subscriptions and the keyspace setup (CONFIG GET/SET) are refused before they are sent.
                await Self.expectRefused("events with expirations") {
                    _ = try await redis.withEvents(expirations: true) { _ in 1 }
                }
                await Self.expectRefused("event handler") {
                    _ = try await redis.withEventHandler(expirations: true, { _ in }) { 1 }
                }
                await Self.expectRefused("wake handler") { _ = try await redis.withWakeHandler(waiter: "w", { _ in }) { 1 } }
            } else {
                // Redlock runs a subscription's body without the nodes it could not subscribe
                // (here: none); what matters is that nothing is sent.
                _ = try? await within(.seconds(5), "events after close") {
                    try await backend.withEvents(expirations: true) { _ in 1 }
                }
                _ = try? await within(.seconds(5), "wake handler after close") {
                    try await backend.withWakeHandler(waiter: nil, { _ in }) { 1 }
                }
            }
            await backend.close()
            await Self.expectRefused("acquire after a second close") {
                _ = try await backend.acquire(["new"], owner: "o", ttl: .seconds(5))
            }

            // Nothing reached any server.
            #expect(try Self.commandStats(env.servers) == before)
            // The owner's clients are open, and the locks as they were.
            for client in env.clients {
                let pong = try await client.execute(RESPCommand("PING"))
                #expect(pong.stringValue == "PONG")
                let owner = try await client.execute(RESPCommand("GET", env.keyspace.lockKey("held")))
                #expect(owner.stringValue == lease.owner)
                let locker = try await client.execute(RESPCommand("GET", env.keyspace.lockKey("locked")))
                #expect(locker.stringValue == "user-1")
                let new = try await client.execute(RESPCommand("EXISTS", env.keyspace.lockKey("new")))
                #expect(new.value == .number(0))
            }
        }
    }
}
