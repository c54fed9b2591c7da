import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// `EVALSHA` with the NOSCRIPT → load → retry-once path.
@Suite(.timeLimit(.minutes(1))) struct ScriptTests {
    static let increment = RedisScript(name: "increment", source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")

    static func incrementCommand(_ key: String, by amount: Int) -> RESPCommand {
        var command = increment.evalSHA(keyCount: 1)
        command.append(key)
        command.append(amount)
        return command
    }

    /// `calls` of one entry of `INFO commandstats`, e.g. `evalsha` or `script|load`.
    static func calls(_ server: RedisServer, _ command: String) throws -> Int {
        let info = try server.cli("INFO", "commandstats")
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_\(command):calls=") {
            let value = line.dropFirst("cmdstat_\(command):calls=".count).prefix { $0.isNumber }
            return Int(value) ?? -1
        }
        return 0
    }

    /// A script preloaded while the client is still connecting reaches that connection too: the
    /// connection took its list of scripts when it started, and `preload` found no live
    /// connection to send it on (the script was missing until the next reconnect).
    @Test func scriptPreloadedWhileConnectingIsLoaded() async throws {
        try await RedisServer.withServer { server throws in
            let proxy = try await FaultProxy.start(upstream: server.port)
            // A slow handshake: connecting takes at least 2 × 150 ms.
            proxy.set(.latency(.milliseconds(150)))
            let client = try RedisClient(configuration: try RedisConfiguration(url: proxy.url))
            async let ping = client.execute(RESPCommand("PING"))
            try await Task.sleep(for: .milliseconds(50))
            client.preload([Self.increment])
            _ = try await ping
            proxy.heal()
            // Any command after the load: replies come in order.
            _ = try await client.execute(RESPCommand("PING"))
            #expect(try server.cli("SCRIPT", "EXISTS", Self.increment.sha1) == "1")
            await client.close()
            await proxy.stop()
        }
    }

    @Test func scriptLoadsOnFirstUseAndAfterFlush() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                let script = Self.increment
                #expect(try await client.run(script, Self.incrementCommand("n", by: 2)).decode(as: Int.self) == 2)
                #expect(try await client.run(script, Self.incrementCommand("n", by: 3)).decode(as: Int.self) == 5)
                #expect(try server.cli("SCRIPT", "EXISTS", script.sha1) == "1")
                #expect(try Self.calls(server, "script|load") == 1)

                try server.cli("SCRIPT", "FLUSH")
                #expect(try server.cli("SCRIPT", "EXISTS", script.sha1) == "0")
                #expect(try await client.run(script, Self.incrementCommand("n", by: 5)).decode(as: Int.self) == 10)
                #expect(try Self.calls(server, "script|load") == 2)
                // First run, its retry, the second run, the run after the flush and its retry.
                #expect(try Self.calls(server, "evalsha") == 5)
            }
        }
    }

    @Test func scriptSurvivesAServerRestart() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                #expect(try await client.run(Self.increment, Self.incrementCommand("n", by: 1)).decode(as: Int.self) == 1)
                try await server.restart()
                #expect(try await client.run(Self.increment, Self.incrementCommand("n", by: 1)).decode(as: Int.self) == 1)
            }
        }
    }

    @Test func scriptWithASyntaxErrorFailsOnceWithoutLooping() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                let broken = RedisScript(name: "broken", source: "return (")
                let (error, elapsed) = await clientError { _ = try await client.run(broken, broken.evalSHA(keyCount: 0)) }
                #expect(error?.code == .serverError)
                #expect(error?.serverError?.code == .err, "the compile error is reported, not NOSCRIPT")
                #expect(error?.serverError?.message.contains("compiling") == true, "\(String(describing: error))")
                #expect(elapsed < .seconds(1))
                #expect(try Self.calls(server, "evalsha") == 2, "one attempt and one retry")
                #expect(try Self.calls(server, "script|load") == 1)
                #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
            }
        }
    }

    @Test func scriptRuntimeErrorIsAServerError() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                let script = RedisScript(name: "wrongtype", source: "return redis.call('INCR', KEYS[1])")
                _ = try await client.execute(RESPCommand("LPUSH", "list", "x"))
                var command = script.evalSHA(keyCount: 1)
                command.append("list")
                let (error, _) = await clientError { _ = try await client.run(script, command) }
                #expect(error?.code == .serverError)
                #expect(error?.serverError?.code == .wrongtype)
                // Loaded by then: a second failure costs no reload.
                _ = await clientError { _ = try await client.run(script, command) }
                #expect(try Self.calls(server, "script|load") == 1)
            }
        }
    }
}
