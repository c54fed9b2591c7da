import Foundation
import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// Passwords and ACL users against a real server.
@Suite(.timeLimit(.minutes(1))) struct AuthenticationTests {
    static let password = "S3cret-Pa55 @:/?%"
    static let escaped = "S3cret-Pa55%20%40%3A%2F%3F%25"

    private static func expectNoPassword(in error: RedisClientError?, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error else { return }
        for text in [error.description, error.message, String(reflecting: error), "\(error.serverError.map { "\($0)" } ?? "")"] {
            #expect(!text.contains("S3cret"), "\(text)", sourceLocation: sourceLocation)
        }
    }

    @Test func rightPasswordWorks() async throws {
        try await RedisServer.withServer(.init(password: Self.password)) { server throws in
            let url = "redis://:\(Self.escaped)@127.0.0.1:\(server.port)"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: url)) { client throws in
                #expect(try await run(client, RESPCommand("SET", "k", "v"), as: String.self) == "OK")
                #expect(try await run(client, RESPCommand("ACL", "WHOAMI"), as: String.self) == "default")
            }
            let withUser = "redis://default:\(Self.escaped)@127.0.0.1:\(server.port)/2?name=authed"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: withUser)) { client throws in
                _ = try await client.execute(RESPCommand("SET", "k", "db2"))
            }
            #expect(try server.cli(arguments: ["-n", "2", "GET", "k"]) == "db2")
        }
    }

    /// A Unix socket with a password: `unix://[user[:password]@]/path`, as redis-py reads it.
    /// Before, such a URL was refused ("unix:// needs an absolute socket path"), so a
    /// password-protected server on a socket could not be named in `LOCKY_URL` at all.
    @Test func unixSocketWithCredentials() async throws {
        let path = FileManager.default.temporaryDirectory.path + "/locky-\(UUID().uuidString.prefix(8)).sock"
        let options = RedisServer.Options(
            password: Self.password, extraConfiguration: ["unixsocket \(path)", "unixsocketperm 700"])
        try await RedisServer.withServer(options) { server throws in
            for credentials in [":\(Self.escaped)", "default:\(Self.escaped)"] {
                let configuration = try RedisConfiguration(url: "unix://\(credentials)@\(path)?db=3")
                #expect(configuration.address == .unixSocket(path: path))
                try await RedisClient.withClient(configuration: configuration) { client throws in
                    #expect(try await run(client, RESPCommand("ACL", "WHOAMI"), as: String.self) == "default")
                    _ = try await client.execute(RESPCommand("SET", "k", "unix-auth"))
                }
            }
            #expect(try server.cli(arguments: ["-n", "3", "GET", "k"]) == "unix-auth")
        }
    }

    @Test func wrongPasswordIsAuthenticationFailed() async throws {
        try await RedisServer.withServer(.init(password: Self.password)) { server throws in
            let url = "redis://:S3cret-wrong@127.0.0.1:\(server.port)"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: url)) { client throws in
                let (error, elapsed) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                #expect(error?.code == .authenticationFailed, "\(String(describing: error))")
                #expect(error?.serverError?.code == .wrongpass)
                #expect(error?.mayHaveRun == false)
                #expect(elapsed < .seconds(2))
                Self.expectNoPassword(in: error)
            }
        }
    }

    @Test func missingPasswordIsAuthenticationFailed() async throws {
        try await RedisServer.withServer(.init(password: Self.password)) { server throws in
            try await withClient(server) { client throws in
                let (error, _) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                #expect(error?.code == .authenticationFailed, "\(String(describing: error))")
                #expect(error?.serverError?.code == .noauth)
                Self.expectNoPassword(in: error)
            }
        }
    }

    @Test func aclUserIsLimitedToItsRules() async throws {
        let user = RedisServer.ACLUser(name: "locky", password: "S3cret-user", rules: "~locky:* +@all -flushall")
        try await RedisServer.withServer(.init(password: Self.password, aclUsers: [user])) { server throws in
            let url = "redis://locky:S3cret-user@127.0.0.1:\(server.port)?name=acl-user"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: url)) { client throws in
                #expect(try await run(client, RESPCommand("ACL", "WHOAMI"), as: String.self) == "locky")
                #expect(try await run(client, RESPCommand("SET", "locky:a", "1"), as: String.self) == "OK")
                #expect(try await run(client, RESPCommand("GET", "locky:a"), as: String.self) == "1")

                let (denied, _) = await clientError { _ = try await client.execute(RESPCommand("FLUSHALL")) }
                #expect(denied?.code == .serverError)
                #expect(denied?.serverError?.code == .noperm)
                let (otherKey, _) = await clientError { _ = try await client.execute(RESPCommand("GET", "other:a")) }
                #expect(otherKey?.serverError?.code == .noperm)
                Self.expectNoPassword(in: denied)
                // Refusals do not break the connection.
                #expect(try await run(client, RESPCommand("GET", "locky:a"), as: String.self) == "1")
            }
            #expect(try server.cli("GET", "locky:a") == "1")

            let wrong = "redis://locky:S3cret-nope@127.0.0.1:\(server.port)"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: wrong)) { client throws in
                let (error, _) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                #expect(error?.code == .authenticationFailed)
                #expect(error?.serverError?.code == .wrongpass)
                Self.expectNoPassword(in: error)
            }
        }
    }
}
