import Locky
import LockyRedis
import LockyTestSupport
import Logging
import Testing

/// One redis-server listed twice under addresses that differ as text (`127.1`, `0.0.0.0`)
/// counts as two votes: a false quorum. Redlock compares the servers' `run_id`s instead.
@Suite("Redlock node identity")
struct RedlockIdentityTests {
    /// `urls` as Redlock nodes, with a quick reconnect so a restarted node is back at once.
    static func configuration(_ urls: [String]) throws -> LockyConfiguration {
        let nodes = try urls.map { url in
            var node = try RedisConfiguration(url: url)
            node.reconnect = RedisReconnectPolicy(initialDelay: .milliseconds(10), maximumDelay: .milliseconds(50))
            return node
        }
        return LockyConfiguration(
            backend: .redlock(RedlockConfiguration(nodes: nodes)),
            retry: RetryPolicy(count: 0, delay: .milliseconds(10), jitter: .zero))
    }

    /// Before: the alias passed the text check and the acquire was granted by "2 of 3" nodes
    /// that were one server. Now: `invalidArgument` naming both addresses, no lock left
    /// anywhere, and the next operation is refused before anything is sent.
    @Test(arguments: ["127.1", "0.0.0.0"])
    func oneServerUnderTwoAddressesIsRefused(alias: String) async throws {
        try await RedlockFaultTests.withNodes(2) { servers in
            let first = "redis://127.0.0.1:\(servers[0].port)"
            let second = "redis://\(alias):\(servers[0].port)"
            let urls = [first, second, "redis://127.0.0.1:\(servers[1].port)"]
            let client = try LockClient(configuration: try Self.configuration(urls))
            let error = await expectLockError(.invalidArgument) { _ = try await client.tryAcquire("job", ttl: .seconds(10)) }
            #expect(error?.message.contains("127.0.0.1:\(servers[0].port)") == true, "\(String(describing: error))")
            #expect(error?.message.contains("\(alias):\(servers[0].port)") == true, "\(String(describing: error))")
            for server in servers { #expect(try RedlockFaultTests.lockKeys(on: server).isEmpty) }

            // Known now: refused before anything is sent.
            for server in servers { _ = try server.cli("CONFIG", "RESETSTAT") }
            _ = await expectLockError(.invalidArgument) { _ = try await client.tryAcquire("job", ttl: .seconds(10)) }
            _ = await expectLockError(.invalidArgument) { _ = try await client.lock("article", locker: "user:1") }
            for server in servers { #expect(try RedlockWaitingTests.scriptCalls(on: server) == 0) }
            for server in servers { #expect(try RedlockFaultTests.lockKeys(on: server).isEmpty) }
            await client.close()
        }
    }

    /// A node that is down at the start is checked when it first answers.
    @Test func aDuplicateThatWasDownIsRefusedWhenItAnswers() async throws {
        try await RedlockFaultTests.withNodes(2) { servers in
            let port = servers[1].port
            let urls = ["redis://127.0.0.1:\(servers[0].port)", "redis://127.0.0.1:\(port)", "redis://0.0.0.0:\(port)"]
            let client = try LockClient(configuration: try Self.configuration(urls))
            servers[1].kill()
            _ = await expectLockError(.quorumNotReached) { _ = try await client.tryAcquire("job", ttl: .seconds(10)) }
            try await servers[1].restart()
            let error = await expectLockError(.invalidArgument) {
                _ = try await client.tryAcquire("job", ttl: .seconds(10))
            }
            #expect(error?.message.contains("0.0.0.0:\(port)") == true, "\(String(describing: error))")
            for server in servers { #expect(try RedlockFaultTests.lockKeys(on: server).isEmpty) }
            await client.close()
        }
    }

    /// Independent servers are not refused, and a restarted node (a new `run_id`) is fine.
    @Test func independentServersAndRestartsPass() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            let client = try LockClient(configuration: try Self.configuration(servers.map(\.url)))
            let lease = try await client.tryAcquire("job", ttl: .seconds(10))
            #expect(try await client.release(lease) == .released)
            try await servers[2].restart()
            let again = try await client.tryAcquire("job", ttl: .seconds(10))
            #expect(try await client.release(again) == .released)
            await client.close()
        }
    }

    /// Under SECURITY.md's least-privilege ACL (no `+info`) the run_ids stay unknown and
    /// Redlock works as before, with the text check only; with `+info` added the check is back.
    @Test(arguments: [false, true])
    func underTheLeastPrivilegeACL(withInfo: Bool) async throws {
        var acl = LeastPrivilegeACL()
        if withInfo { acl.commands.append("info") }
        let user = RedisServer.ACLUser(name: "locky", password: LeastPrivilegeTests.password, rules: acl.rules)
        let servers = try await RedisServer.startMany(2, RedisServer.Options(password: "admin-x", aclUsers: [user]))
        do {
            try await Self.runAsACLUser(servers, withInfo: withInfo)
        } catch {
            for server in servers { await server.stop() }
            throw error
        }
        for server in servers { await server.stop() }
    }

    private static func runAsACLUser(_ servers: [RedisServer], withInfo: Bool) async throws {
        let url = { (host: String, server: RedisServer) in
            "redis://locky:\(LeastPrivilegeTests.password)@\(host):\(server.port)"
        }
        let nodes = try [url("127.0.0.1", servers[0]), url("127.0.0.1", servers[1])].map { try RedisConfiguration(url: $0) }
        let independent = try RedlockBackend(
            configuration: RedlockConfiguration(nodes: nodes), keyspace: LockKeyspace(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let client = try LockClient(backend: independent)
        let lease = try await client.tryAcquire("job", ttl: .seconds(10))
        #expect(try await client.release(lease) == .released)
        #expect(independent.nodeBackends.allSatisfy { ($0.client.serverRunID != nil) == withInfo })
        await client.close()
        await independent.close()

        guard withInfo else { return }
        let duplicate = try LockClient(
            configuration: try configuration([
                url("127.0.0.1", servers[0]), url("0.0.0.0", servers[0]), url("127.0.0.1", servers[1]),
            ]))
        _ = await expectLockError(.invalidArgument) { _ = try await duplicate.tryAcquire("job", ttl: .seconds(10)) }
        await duplicate.close()
    }
}
