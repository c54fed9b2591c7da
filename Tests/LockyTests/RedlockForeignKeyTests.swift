import Locky
import LockyTestSupport
import Testing

/// Redlock and keys of a resource that hold something Locky did not write there (another
/// application's set, a fence key that holds text): when the nodes that refuse for such a key
/// leave too few for a quorum, acquire, lock and waiting acquires fail with `serverError` naming
/// the resource, as on one server, and what the other nodes took is given back.
@Suite("Redlock foreign keys")
struct RedlockForeignKeyTests {
    /// 10 retries 500 ms apart: a `quorumNotReached` used to run them all (about 5 s), far
    /// from an error at once on a loaded machine.
    static func configuration(_ servers: [RedisServer]) throws -> LockyConfiguration {
        try RedlockFaultTests.configuration(
            servers, retry: RetryPolicy(count: 10, delay: .milliseconds(500), jitter: .milliseconds(50)))
    }

    /// Stores a set under `key` on the servers at `nodes`.
    static func storeSet(_ key: String, on servers: [RedisServer], _ nodes: [Int]) throws {
        for node in nodes { _ = try servers[node].cli("SADD", key, "x") }
    }

    /// A lock key of another type on every node: acquire used to retry 10 times and end with
    /// `quorumNotReached` (about 5 s); it now fails at once with `serverError` naming the
    /// resource, with every node's answer.
    @Test func aLockKeyOfAnotherTypeOnEveryNodeIsAServerError() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            try Self.storeSet("locky:{r}", on: servers, [0, 1, 2])
            let client = try LockClient(configuration: try Self.configuration(servers))
            let started = ContinuousClock.now
            let error = await expectLockError(.serverError) { _ = try await client.acquire("r", ttl: .seconds(5), retry: nil) }
            let took = ContinuousClock.now - started
            #expect(took < .seconds(2), "took \(took)")
            #expect(error?.resource == "r", "\(String(describing: error))")
            #expect(error?.message.contains("another type") == true, "\(String(describing: error))")
            #expect(error?.nodes.count == 3, "\(String(describing: error))")
            #expect(error?.nodes.allSatisfy { $0.description.contains("another type") } == true, "\(String(describing: error))")
            await expectLockError(.serverError) { _ = try await client.tryAcquire("r", ttl: .seconds(5)) }
            for server in servers { #expect(try server.cli("TYPE", "locky:{r}") == "set") }
            await client.close()
        }
    }

    /// A fence key that holds no counter on every node: the same.
    @Test func aFenceKeyWithoutACounterOnEveryNodeIsAServerError() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            for server in servers { _ = try server.cli("SET", "locky:{f}:fence", "not a number") }
            let client = try LockClient(configuration: try Self.configuration(servers))
            let error = await expectLockError(.serverError) { _ = try await client.tryAcquire(["e", "f"], ttl: .seconds(5)) }
            #expect(error?.resource == "f", "\(String(describing: error))")
            #expect(error?.message.contains("no fencing counter") == true, "\(String(describing: error))")
            #expect(try await client.holder(of: "e") == nil)
            for server in servers { #expect(try server.cli("GET", "locky:{f}:fence") == "not a number") }
            await client.close()
        }
    }

    /// Two of three nodes refuse (a quorum is impossible without them), the third grants: a
    /// batch acquire fails with `serverError` naming the foreign resource, and the grant of
    /// the third node is given back.
    @Test func refusalsThatLeaveNoQuorumGiveBackTheGrants() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            try Self.storeSet("locky:{r}", on: servers, [1, 2])
            let client = try LockClient(configuration: try Self.configuration(servers))
            let error = await expectLockError(.serverError) { _ = try await client.tryAcquire(["a", "r"], ttl: .seconds(30)) }
            #expect(error?.resource == "r", "\(String(describing: error))")
            #expect(error?.nodes.first?.isGranted == true, "\(String(describing: error))")
            #expect(try RedlockFaultTests.lockKeys(on: servers[0]) == [], "node 0 kept its grant")
            #expect(try await client.holder(of: "a") == nil)
            await client.close()
        }
    }

    /// One node refuses and one is down: that is no quorum either way, so it stays
    /// `quorumNotReached`, with each node's answer.
    @Test func oneRefusalAndADownNodeIsNoQuorum() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            try Self.storeSet("locky:{r}", on: servers, [1])
            servers[2].kill()
            let client = try LockClient(configuration: try Self.configuration(servers))
            let error = await expectLockError(.quorumNotReached) { _ = try await client.tryAcquire("r", ttl: .seconds(30)) }
            let answers = error?.nodes.map(\.description) ?? []
            #expect(answers.count == 3, "\(answers)")
            #expect(answers.first?.hasSuffix(": granted") == true, "\(answers)")
            #expect(answers.dropFirst().first?.contains("another type") == true, "\(answers)")
            #expect(try RedlockFaultTests.lockKeys(on: servers[0]) == [], "node 0 kept its grant")
            await client.close()
        }
    }

    /// The locker API's lock, forced or not: `serverError` naming the resource, and what the
    /// third node took (the free resource of the batch) is given back.
    @Test(arguments: [false, true])
    func lockerLockRefusedByTooManyNodesIsAServerError(force: Bool) async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            try Self.storeSet("locky:{r}", on: servers, [1, 2])
            let client = try LockClient(configuration: try Self.configuration(servers))
            let error = await expectLockError(.serverError) {
                _ = try await client.lock(["free", "r"], locker: "me", force: force)
            }
            #expect(error?.resource == "r", "\(String(describing: error))")
            #expect(try RedlockFaultTests.lockKeys(on: servers[0]) == [], "node 0 kept its grant")
            await expectLockError(.serverError) { _ = try await client.lock("r", locker: "me", force: force) }
            #expect(try await client.locker(of: ["free", "r"]).map(\.outcome) == [nil, nil])
            await client.close()
        }
    }

    /// A waiting acquire: waiting cannot remove the key, so it fails at once with
    /// `serverError` (it used to retry until `retry.count` quorum failures, about 5 s).
    @Test(arguments: [["r"], ["a", "r"]])
    func aWaitingAcquireFailsAtOnce(resources: [String]) async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            try Self.storeSet("locky:{r}", on: servers, [0, 1, 2])
            let client = try LockClient(configuration: try Self.configuration(servers))
            let started = ContinuousClock.now
            let error = await expectLockError(.serverError) {
                _ = try await client.acquire(resources, ttl: .seconds(5), timeout: .seconds(10))
            }
            let took = ContinuousClock.now - started
            #expect(took < .seconds(2), "took \(took)")
            #expect(error?.resource == "r", "\(String(describing: error))")
            for server in servers { #expect(try RedlockFaultTests.lockKeys(on: server) == ["locky:{r}"]) }
            await client.close()
        }
    }
}
