import Foundation
import LockyTestSupport
import Testing

/// Starting, stopping, killing, pausing and restarting real servers.
@Suite struct RedisServerLifecycleTests {
    @Test func startsAndAnswersPing() async throws {
        try await RedisServer.withServer { server throws in
            #expect(server.host == "127.0.0.1")
            #expect(server.url == "redis://127.0.0.1:\(server.port)")
            #expect(try server.cli("PING") == "PONG")
            #expect(FileManager.default.fileExists(atPath: server.directory + "/redis.conf"))
            #expect(ExternalCommand.processExists(server.pid))
            #expect(try server.cli("CONFIG", "GET", "appendonly") == "appendonly\nno")
        }
    }

    @Test func startManyGivesIndependentServersOnDifferentPorts() async throws {
        let servers = try await RedisServer.startMany(3)
        defer {
            // Synchronous safety net should an expectation below throw; stop() normally ran already.
            for server in servers { server.kill() }
        }
        #expect(Set(servers.map(\.port)).count == 3)
        #expect(Set(servers.map(\.pid)).count == 3)
        try servers[0].cli("SET", "only-here", "1")
        #expect(try servers[1].cli("EXISTS", "only-here") == "0")
        for server in servers {
            #expect(try server.cli("PING") == "PONG")
            await server.stop()
        }
    }

    @Test func killMakesCliFailAndRestartComesBackEmptyOnSamePort() async throws {
        try await RedisServer.withServer { server throws in
            try server.cli("SET", "key", "value")
            let port = server.port
            let oldPID = server.pid

            server.kill()
            #expect(!ExternalCommand.processExists(oldPID))
            #expect(!server.isRunning)
            #expect(throws: RedisHarnessError.self) { try server.cli("PING") }

            try await server.restart()
            #expect(server.port == port)
            #expect(server.pid != oldPID)
            #expect(try server.cli("PING") == "PONG")
            #expect(try server.cli("EXISTS", "key") == "0")
        }
    }

    @Test func restartOfRunningServerKeepsPort() async throws {
        try await RedisServer.withServer { server throws in
            let port = server.port
            let oldPID = server.pid
            try await server.restart()
            #expect(server.port == port)
            #expect(!ExternalCommand.processExists(oldPID))
            #expect(try server.cli("PING") == "PONG")
        }
    }

    @Test func restartWaitsForItsPortToBecomeFree() async throws {
        try await RedisServer.withServer { server throws in
            let port = server.port
            server.kill()
            let blocker = try #require(PortBlocker(port: port))
            let releaser = Task {
                try? await Task.sleep(for: .milliseconds(300))
                blocker.release()
            }
            try await server.restart()
            await releaser.value
            #expect(server.port == port)
            #expect(try server.cli("PING") == "PONG")
        }
    }

    @Test func persistenceKeepsDataAcrossRestartAndKill() async throws {
        try await RedisServer.withServer(.init(persistence: true)) { server throws in
            try server.cli("SET", "durable", "yes")
            try await server.restart()
            #expect(try server.cli("GET", "durable") == "yes")

            try server.cli("SET", "after-crash", "kept")
            server.kill()
            try await server.restart()
            #expect(try server.cli("GET", "after-crash") == "kept")
        }
    }

    @Test func pausedServerDoesNotAnswerUntilResumed() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            #expect(throws: RedisHarnessError.self) {
                try server.cli(arguments: ["PING"], timeout: .milliseconds(300))
            }
            server.resume()
            #expect(try server.cli("PING") == "PONG")
        }
    }

    @Test func stopWorksOnPausedServerAndIsIdempotent() async throws {
        let server = try await RedisServer.start()
        let pid = server.pid
        server.pause()
        await server.stop()
        #expect(!ExternalCommand.processExists(pid))
        #expect(!FileManager.default.fileExists(atPath: server.directory))
        await server.stop()
    }

    @Test func withServerStopsServerWhenBodyThrows() async throws {
        var seen: (pid: Int32, directory: String)?
        do {
            try await RedisServer.withServer { server throws in
                seen = (server.pid, server.directory)
                throw HarnessTestError()
            }
            Issue.record("withServer should rethrow the body's error")
        } catch is HarnessTestError {
            // Expected.
        }
        let (pid, directory) = try #require(seen)
        #expect(!ExternalCommand.processExists(pid))
        #expect(!FileManager.default.fileExists(atPath: directory))
        let registry = (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/locky-test-servers/\(pid).pid"
        #expect(!FileManager.default.fileExists(atPath: registry))
    }

    @Test func recordsRunningServerForOrphanCleanup() async throws {
        try await RedisServer.withServer { server throws in
            let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            let registry = tmp + "/locky-test-servers/\(server.pid).pid"
            let recorded = try String(contentsOfFile: registry, encoding: .utf8)
            #expect(recorded.trimmingCharacters(in: .whitespacesAndNewlines) == server.directory)
        }
    }

    @Test func badConfigurationFailsWithServerOutput() async throws {
        let options = RedisServer.Options(extraConfiguration: ["no-such-directive yes"])
        let error = await #expect(throws: RedisHarnessError.self) { try await RedisServer.start(options) }
        #expect(error?.message.contains("no-such-directive") == true)
        #expect(error?.code == .startFailed)
    }

    @Test func appliesExtraConfiguration() async throws {
        let options = RedisServer.Options(extraConfiguration: ["notify-keyspace-events Ex", "hz 10"])
        try await RedisServer.withServer(options) { server throws in
            #expect(try server.cli("CONFIG", "GET", "hz") == "hz\n10")
            #expect(try server.cli("CONFIG", "GET", "notify-keyspace-events") == "notify-keyspace-events\nxE")
        }
    }
}
