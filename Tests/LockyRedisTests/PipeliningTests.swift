import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// Many tasks share one connection; every reply reaches its own caller.
@Suite(.timeLimit(.minutes(1))) struct PipeliningTests {
    @Test func thousandConcurrentCallersOnOneConnection() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server, suffix: "?name=locky-pipeline") { client throws in
                let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<1000 {
                        group.addTask {
                            if index % 10 == 0 {
                                let value = try await run(client, RESPCommand("INCR", "counter"), as: Int.self)
                                return (1...100).contains(value) ? 0 : 1
                            }
                            let value = "caller-\(index)-" + String(repeating: "x", count: index % 37)
                            let echoed = try await run(client, RESPCommand("ECHO", value), as: String.self)
                            return echoed == value ? 0 : 1
                        }
                    }
                    return try await group.reduce(0, +)
                }
                #expect(mismatches == 0)
                #expect(try await run(client, RESPCommand("GET", "counter"), as: String.self) == "100")

                // One connection only: ours, plus the redis-cli connection that lists the clients.
                let all = try server.cli("CLIENT", "LIST").split(separator: "\n")
                #expect(all.count == 2, "\(all)")
                #expect(try clientListLines(server, named: "locky-pipeline").count == 1)
                let info = try server.cli("INFO", "stats")
                // Our single connection and the two redis-cli calls above, and this one.
                #expect(info.contains("total_connections_received:4"), "\(info)")
            }
        }
    }

    @Test func concurrentBatchesStayInOrder() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                let failures = await withTaskGroup(of: Int.self) { group in
                    for batch in 0..<50 {
                        group.addTask {
                            let commands = (0..<20).map { RESPCommand("ECHO", "b\(batch)-\($0)") }
                            let results = await client.execute(batch: commands)
                            var bad = 0
                            for (index, result) in results.enumerated()
                            where (try? result.get().decode(as: String.self)) != "b\(batch)-\(index)" {
                                bad += 1
                            }
                            return bad + (results.count == 20 ? 0 : 1)
                        }
                    }
                    return await group.reduce(0, +)
                }
                #expect(failures == 0)
            }
        }
    }

    @Test func tasksOnTheClientsExecutorGetTheirReplies() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                let ok = try await withTaskExecutorPreference(client.taskExecutor) {
                    try await withThrowingTaskGroup(of: Bool.self) { group in
                        for index in 0..<200 {
                            group.addTask {
                                try await run(client, RESPCommand("ECHO", "e\(index)"), as: String.self) == "e\(index)"
                            }
                        }
                        return try await group.allSatisfy { $0 }
                    }
                }
                #expect(ok)
            }
        }
    }
}
