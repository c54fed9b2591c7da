import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// Servers without `HELLO`, and clients that ask for RESP2.
@Suite(.timeLimit(.minutes(1))) struct RESP2FallbackTests {
    static let noHello = ["rename-command HELLO \"\""]

    @Test func serverWithoutHelloStillConnects() async throws {
        try await RedisServer.withServer(.init(extraConfiguration: Self.noHello)) { server throws in
            #expect(throws: RedisHarnessError.self) { try server.cli("HELLO", "3") }
            try await withClient(server, suffix: "/4?name=resp2-fallback") { client throws in
                #expect(try await run(client, RESPCommand("SET", "k", "v"), as: String.self) == "OK")
                #expect(try await run(client, RESPCommand("GET", "k"), as: String.self) == "v")
                let lines = try clientListLines(server, named: "resp2-fallback")
                #expect(lines.count == 1)
                #expect(lines.first?.contains("resp=2") == true)
                #expect(lines.first?.contains("db=4") == true)
            }
            #expect(try server.cli(arguments: ["-n", "4", "GET", "k"]) == "v")
        }
    }

    @Test func serverWithoutHelloAuthenticatesWithAUTH() async throws {
        let user = RedisServer.ACLUser(name: "app", password: "app-pw", rules: "~* +@all")
        let options = RedisServer.Options(password: "default-pw", aclUsers: [user], extraConfiguration: Self.noHello)
        try await RedisServer.withServer(options) { server throws in
            let url = "redis://:default-pw@127.0.0.1:\(server.port)/1?name=resp2-auth"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: url)) { client throws in
                #expect(try await run(client, RESPCommand("SET", "k", "v"), as: String.self) == "OK")
                #expect(try await run(client, RESPCommand("ACL", "WHOAMI"), as: String.self) == "default")
                #expect(try clientListLines(server, named: "resp2-auth").count == 1)
            }
            #expect(try server.cli(arguments: ["-n", "1", "GET", "k"]) == "v")

            let asUser = "redis://app:app-pw@127.0.0.1:\(server.port)"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: asUser)) { client throws in
                #expect(try await run(client, RESPCommand("ACL", "WHOAMI"), as: String.self) == "app")
            }

            let wrong = "redis://:nope@127.0.0.1:\(server.port)"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: wrong)) { client throws in
                let (error, _) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                #expect(error?.code == .authenticationFailed, "\(String(describing: error))")
                #expect(error?.serverError?.code == .wrongpass)
            }
        }
    }

    @Test func protocol2IsRequestedWithHello2() async throws {
        try await RedisServer.withServer(.init(password: "pw")) { server throws in
            let url = "redis://:pw@127.0.0.1:\(server.port)/2?protocol=2&name=resp2-asked"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: url)) { client throws in
                #expect(try await run(client, RESPCommand("SET", "k", "v"), as: String.self) == "OK")
                #expect(try await run(client, RESPCommand("HGETALL", "none"), as: [String].self) == [])
                let lines = try clientListLines(server, named: "resp2-asked")
                #expect(lines.first?.contains("resp=2") == true, "\(lines)")
                // RESP2 replies: a map comes back as a flat array.
                _ = try await client.execute(RESPCommand("HSET", "h", "f", "1"))
                #expect(try await run(client, RESPCommand("HGETALL", "h"), as: [String].self) == ["f", "1"])
            }
            #expect(try server.cli(arguments: ["-n", "2", "GET", "k"]) == "v")
        }
    }
}
