import Foundation
import LockyRESP
import LockyTestSupport
import NIOCore
import Testing

@testable import LockyRedis

/// Plain commands against one shared real server.
@Suite(.timeLimit(.minutes(1))) struct BasicCommandTests {
    @Test func pingSetGetAndMissingKey() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
                #expect(try await run(client, RESPCommand("SET", "greeting", "hello"), as: String.self) == "OK")
                #expect(try await run(client, RESPCommand("GET", "greeting"), as: String.self) == "hello")
                #expect(try await run(client, RESPCommand("GET", "missing"), as: String?.self) == nil)
                #expect(try await run(client, RESPCommand("INCRBY", "n", 41), as: Int.self) == 41)
                #expect(try await run(client, RESPCommand("INCR", "n"), as: Int.self) == 42)
            }
            #expect(try server.cli("GET", "greeting") == "hello")
        }
    }

    @Test func valuesAreBinarySafe() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                let allBytes = [UInt8](0...255) + [UInt8](0...255).reversed() + Array("\r\n$-1\r\n*2\r\n".utf8)
                _ = try await client.execute(RESPCommand("SET", allBytes, allBytes))
                let back = try await run(client, RESPCommand("GET", allBytes), as: ByteBuffer.self)
                #expect(Array(back.readableBytesView) == allBytes)
                #expect(try await run(client, RESPCommand("STRLEN", allBytes), as: Int.self) == allBytes.count)

                var generator = SystemRandomNumberGenerator()
                var large = [UInt8](repeating: 0, count: 1_048_576)
                large.withUnsafeMutableBytes { raw in
                    for offset in stride(from: 0, to: raw.count, by: 8) {
                        raw.storeBytes(of: generator.next(), toByteOffset: offset, as: UInt64.self)
                    }
                }
                _ = try await client.execute(RESPCommand("SET", "large", large))
                let largeBack = try await run(client, RESPCommand("GET", "large"), as: ByteBuffer.self)
                #expect(largeBack.readableBytes == large.count)
                #expect(Array(largeBack.readableBytesView) == large)
                // The connection is still in step after a large reply.
                #expect(try await run(client, RESPCommand("ECHO", "after"), as: String.self) == "after")
            }
        }
    }

    /// A per-call timeout that is not positive is refused before anything is sent: expiring
    /// at once, it retired the shared connection and failed another caller's command on it.
    @Test func aTimeoutThatIsNotPositiveIsRefusedAndHarmsNoOne() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Another caller's command, in flight on the same connection for 300 ms.
                    group.addTask {
                        _ = try await client.execute(RESPCommand("BLPOP", "nothing", "0.3"))
                    }
                    try await Task.sleep(for: .milliseconds(50))
                    for timeout in [Duration.zero, .milliseconds(-5)] {
                        let (error, _) = await clientError {
                            _ = try await client.execute(RESPCommand("SET", "k", "v"), timeout: timeout)
                        }
                        #expect(error?.code == .invalidArgument)
                        let batch = await client.execute(batch: [RESPCommand("SET", "b", "v")], timeout: timeout)
                        #expect(batch.count == 1)
                        if case .failure(let error) = batch[0] {
                            #expect(error.code == .invalidArgument)
                        } else {
                            Issue.record("sent")
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(try server.cli("EXISTS", "k", "b") == "0")
        }
    }

    @Test func errorReplyBecomesServerError() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                _ = try await client.execute(RESPCommand("LPUSH", "list", "x"))
                let (error, _) = await clientError { _ = try await client.execute(RESPCommand("GET", "list")) }
                #expect(error?.code == .serverError)
                #expect(error?.serverError?.code == .wrongtype)
                #expect(error?.mayHaveRun == false)

                let (unknown, _) = await clientError { _ = try await client.execute(RESPCommand("NOSUCHCOMMAND", "a")) }
                #expect(unknown?.code == .serverError)
                #expect(unknown?.serverError?.code == .err)
                // The connection keeps working after error replies.
                #expect(try await run(client, RESPCommand("LLEN", "list"), as: Int.self) == 1)
            }
        }
    }

    @Test func batchReturnsOneResultPerCommand() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                let results = await client.execute(batch: [
                    RESPCommand("SET", "b", "1"),
                    RESPCommand("INCR", "b"),
                    RESPCommand("LPUSH", "b", "x"),
                    RESPCommand("INCR", "b"),
                    RESPCommand("GET", "b"),
                ])
                try #require(results.count == 5)
                #expect(try results[0].get().decode(as: String.self) == "OK")
                #expect(try results[1].get().decode(as: Int.self) == 2)
                switch results[2] {
                case .success(let token): Issue.record("expected WRONGTYPE, got \(token)")
                case .failure(let error):
                    #expect(error.code == .serverError)
                    #expect(error.serverError?.code == .wrongtype)
                }
                #expect(try results[3].get().decode(as: Int.self) == 3)
                #expect(try results[4].get().decode(as: String.self) == "3")
                #expect(await client.execute(batch: []).isEmpty)
            }
        }
    }

    @Test func databaseFromTheURLIsSelected() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server, suffix: "/3") { client throws in
                _ = try await client.execute(RESPCommand("SET", "k", "in-db-3"))
            }
            #expect(try server.cli(arguments: ["-n", "3", "GET", "k"]) == "in-db-3")
            #expect(try server.cli(arguments: ["-n", "0", "GET", "k"]) == "")
            try await withClient(server, suffix: "?db=5") { client throws in
                _ = try await client.execute(RESPCommand("SET", "k", "in-db-5"))
            }
            #expect(try server.cli(arguments: ["-n", "5", "GET", "k"]) == "in-db-5")
        }
    }

    @Test func aDatabaseTheServerLacksIsConfigurationRejected() async throws {
        // Redis has 16 databases by default; 16 is out of range. RESP3 (HELLO, SELECT pipelined)
        // and the RESP2 path of a server without HELLO must say the same.
        for extra in [[], ["rename-command HELLO \"\""]] {
            try await RedisServer.withServer(.init(extraConfiguration: extra)) { server throws in
                try await withClient(server, suffix: "/16") { client throws in
                    let (error, elapsed) = await clientError { _ = try await client.execute(RESPCommand("SET", "k", "v")) }
                    #expect(error?.code == .configurationRejected, "\(String(describing: error))")
                    #expect(error?.message.contains("refused database 16") == true, "\(String(describing: error))")
                    #expect(error?.serverError?.code == .err)
                    #expect(error?.mayHaveRun == false)
                    #expect(elapsed < .seconds(2))
                    // While the client backs off, the cause stays visible.
                    let (again, _) = await clientError { _ = try await client.execute(RESPCommand("SET", "k", "v")) }
                    let cause = again?.code == .unavailable ? again?.underlying as? RedisClientError : again
                    #expect(cause?.code == .configurationRejected, "\(String(describing: again))")
                }
                #expect(try server.cli("DBSIZE") == "0")
            }
        }
    }

    @Test func unixSocketWithDatabase() async throws {
        let path = FileManager.default.temporaryDirectory.path + "/locky-\(UUID().uuidString.prefix(8)).sock"
        let options = RedisServer.Options(extraConfiguration: ["unixsocket \(path)", "unixsocketperm 700"])
        try await RedisServer.withServer(options) { server throws in
            let configuration = try RedisConfiguration(url: "unix://\(path)?db=2&name=over-unix")
            try await RedisClient.withClient(configuration: configuration) { client throws in
                #expect(try await run(client, RESPCommand("SET", "k", "unix"), as: String.self) == "OK")
                let lines = try clientListLines(server, named: "over-unix")
                #expect(lines.first?.contains("addr=/") == true || lines.first?.contains("flags=U") == true, "\(lines)")
            }
            #expect(try server.cli(arguments: ["-n", "2", "GET", "k"]) == "unix")
        }
    }

    @Test func clientNameAppearsInClientList() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server, suffix: "?name=locky-basic") { client throws in
                #expect(try await run(client, RESPCommand("CLIENT", "GETNAME"), as: String.self) == "locky-basic")
                let lines = try clientListLines(server, named: "locky-basic")
                #expect(lines.count == 1)
                #expect(lines.first?.contains("resp=3") == true, "RESP3 is negotiated by default")
            }
            #expect(try await eventually { try clientListLines(server, named: "locky-basic").isEmpty }, "close() closes")
        }
    }

    @Test func closedClientRefusesCommands() async throws {
        try await RedisServer.withServer { server throws in
            let client = try RedisClient(configuration: try configuration(for: server))
            #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
            await client.close()
            let (error, _) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
            #expect(error?.code == .closed)
            #expect(error?.mayHaveRun == false)
            let batch = await client.execute(batch: [RESPCommand("PING")])
            #expect((try? batch.first?.get()) == nil)
        }
    }

    @Test func scriptDigestMatchesTheServers() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                let sources = [
                    "return 1",
                    "return redis.call('GET', KEYS[1]) -- ünïcödé ✓",
                    "",
                    String(repeating: "-- padding line to make a large script\n", count: 26_000) + "return 'big'",
                ]
                for source in sources {
                    let script = RedisScript(name: "s", source: source)
                    let answer = try await run(client, script.loadCommand, as: String.self)
                    #expect(answer == script.sha1, "source of \(source.utf8.count) bytes")
                }
            }
        }
    }
}
