import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// The fan-out over independent servers (Redlock's path) resends like a single command does.
@Suite(.serialized, .timeLimit(.minutes(1))) struct FanOutResendTests {
    /// A node whose connection the server closed between the fan-out picking it and the command
    /// reaching it (`CLIENT KILL`, a restart): nothing was written, so the command goes again on
    /// a new connection to that node instead of failing "not sent" (a Redlock quorum missed
    /// although a new connection was one dial away). Every node is killed at once, 20 times, and
    /// five fan-outs over the three servers race each kill; each server counts exactly what was
    /// sent there, never a command twice.
    @Test func aNodeWhoseConnectionDiesAsTheFanOutSendsGetsItOnANewOne() async throws {
        let servers = try await RedisServer.startMany(3)
        var clients: [RedisClient] = []
        do {
            // Five fan-outs, each with one client per server; one killer per server.
            let groups = try (0..<5).map { _ in try servers.map { try RedisClient(configuration: configuration(for: $0)) } }
            let killers = try servers.map { try RedisClient(configuration: configuration(for: $0)) }
            clients = groups.flatMap { $0 } + killers
            try await killAndFanOut(groups, killers)
        } catch {
            for client in clients { await client.close() }
            for server in servers { await server.stop() }
            throw error
        }
        for client in clients { await client.close() }
        for server in servers { await server.stop() }
    }

    private func killAndFanOut(_ groups: [[RedisClient]], _ killers: [RedisClient]) async throws {
        let nodes = killers.count
        let rounds = 20
        var notSent: [String] = []
        var mayHaveRun = [Int](repeating: 0, count: nodes)
        var unsentPerNode = [Int](repeating: 0, count: nodes)
        for round in 0..<rounds {
            for client in groups.flatMap({ $0 }) {
                #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
            }
            // A connection that lived this long is dialled again at once (no backoff).
            try await Task.sleep(for: .milliseconds(250))
            let kill = RESPCommand("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            for reply in await RedisClient.execute(kill, on: killers) { _ = try reply.get() }
            let replies = await withTaskGroup(of: [Result<RESPToken, RedisClientError>].self) { group in
                for members in groups {
                    group.addTask {
                        // As Redlock sends: under a reply wait limit (its node timeout).
                        await RedisClient.withReplyWaitLimit(.seconds(2)) {
                            await RedisClient.execute(RESPCommand("INCR", "after-kill"), on: members)
                        }
                    }
                }
                return await group.reduce(into: [[Result<RESPToken, RedisClientError>]]()) { $0.append($1) }
            }
            for fanOut in replies {
                for (node, reply) in fanOut.enumerated() {
                    guard case .failure(let error) = reply else { continue }
                    // Written before the client saw the connection go, it may have run: that
                    // failure is right (a resend could run it twice). One never written must not fail.
                    if error.mayHaveRun {
                        mayHaveRun[node] += 1
                    } else {
                        unsentPerNode[node] += 1
                        notSent.append("round \(round), node \(node): \(error)")
                    }
                }
            }
        }
        let sent = rounds * groups.count
        #expect(notSent.isEmpty, "\(notSent.count) of \(sent * nodes) failed unsent: \(notSent.prefix(3))")
        for (node, killer) in killers.enumerated() {
            let counted = try await run(killer, RESPCommand("GET", "after-kill"), as: Int.self)
            let most = sent - unsentPerNode[node]
            #expect(counted >= most - mayHaveRun[node] && counted <= most, "node \(node): \(counted) of \(sent)")
        }
    }
}
