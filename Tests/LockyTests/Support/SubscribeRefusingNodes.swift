import LockyTestSupport

/// Three Redlock nodes whose third refuses `SUBSCRIBE` (its ACL user may do anything else): its
/// commands work, its wake-ups and events never come.
enum SubscribeRefusingNodes {
    /// Runs `body` with the three servers and their URLs (the third with the restricted user),
    /// and stops the servers afterwards, also when `body` throws.
    static func with(_ body: (_ servers: [RedisServer], _ urls: [String]) async throws -> Void) async throws {
        let noSubscribe = RedisServer.ACLUser(name: "locky", password: "nosub-pw", rules: "~* &* +@all -subscribe")
        let servers = try await RedisServer.startMany(2)
        let refusing: RedisServer
        do {
            refusing = try await RedisServer.start(RedisServer.Options(password: "admin-pw", aclUsers: [noSubscribe]))
        } catch {
            for server in servers { await server.stop() }
            throw error
        }
        let all = servers + [refusing]
        do {
            try await body(all, servers.map(\.url) + ["redis://locky:nosub-pw@127.0.0.1:\(refusing.port)"])
        } catch {
            for server in all { await server.stop() }
            throw error
        }
        for server in all { await server.stop() }
    }
}
