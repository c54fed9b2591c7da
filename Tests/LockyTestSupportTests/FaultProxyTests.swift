import LockyRESP
import LockyRedis
import LockyTestSupport
import Testing

/// Each fault of the proxy, measured through a real `RedisClient` and a real redis-server.
@Suite(.serialized, .timeLimit(.minutes(1))) struct FaultProxyTests {
    /// A server, a proxy in front of it, and a client that goes through the proxy; all stopped afterwards.
    private func withProxiedClient(
        commandTimeout: Duration = .seconds(2),
        clientName: String? = nil,
        _ body: (RedisServer, FaultProxy, RedisClient) async throws -> Void
    ) async throws {
        try await RedisServer.withServer { server throws in
            try await FaultProxy.withProxy(upstream: server.port) { proxy throws in
                var configuration = try RedisConfiguration(url: proxy.url)
                configuration.commandTimeout = commandTimeout
                configuration.connectTimeout = .seconds(1)
                configuration.keepAliveInterval = nil
                configuration.clientName = clientName
                try await RedisClient.withClient(configuration: configuration) { client throws in
                    try await body(server, proxy, client)
                }
            }
        }
    }

    /// Runs `command` on the client's event loop (so a busy cooperative pool cannot skew the time) and returns the
    /// reply or the client error, with how long it took.
    private func timed(
        _ client: RedisClient,
        _ command: RESPCommand,
        timeout: Duration? = nil
    ) async -> (result: Result<RESPToken, RedisClientError>, elapsed: Duration) {
        await withTaskExecutorPreference(client.taskExecutor) {
            let start = ContinuousClock.now
            do throws(RedisClientError) {
                let reply = try await client.execute(command, timeout: timeout)
                return (.success(reply), ContinuousClock.now - start)
            } catch {
                return (.failure(error), ContinuousClock.now - start)
            }
        }
    }

    private func ping(_ client: RedisClient) async throws -> String {
        try await client.execute(RESPCommand("PING")).decode(as: String.self)
    }

    private func failure(of result: Result<RESPToken, RedisClientError>) -> RedisClientError? {
        if case .failure(let error) = result { return error }
        return nil
    }

    @Test func forwardsBytesUnchangedBothWays() async throws {
        try await withProxiedClient { server, proxy, client throws in
            let value = String((0..<200_000).map { _ in "abcdefghij".randomElement() ?? "a" })
            _ = try await client.execute(RESPCommand("SET", "big", value))
            #expect(try await client.execute(RESPCommand("GET", "big")).decode(as: String.self) == value)
            #expect(try server.cli("STRLEN", "big") == "200000")
            #expect(proxy.acceptedCount == 1)
            #expect(proxy.connectionCount == 1)
            #expect(proxy.upstreamPort == server.port)
        }
    }

    @Test func latencyAddsAtLeastTheConfiguredDelayEachWay() async throws {
        try await withProxiedClient { _, proxy, client throws in
            #expect(try await ping(client) == "PONG")
            proxy.set(.latency(.milliseconds(50), jitter: .milliseconds(10)))
            for _ in 0..<3 {
                let (result, elapsed) = await timed(client, RESPCommand("PING"))
                #expect((try? result.get().decode(as: String.self)) == "PONG")
                // 50 ms on the way there and 50 ms on the way back, plus at most 10 ms of jitter each.
                #expect(elapsed >= .milliseconds(100), "\(elapsed)")
                #expect(elapsed < .milliseconds(400), "\(elapsed)")
            }

            proxy.heal()
            proxy.set(.latency(.milliseconds(80), direction: .clientToServer))
            let (oneWay, oneWayElapsed) = await timed(client, RESPCommand("PING"))
            #expect((try? oneWay.get().decode(as: String.self)) == "PONG")
            #expect(oneWayElapsed >= .milliseconds(80), "\(oneWayElapsed)")
            #expect(oneWayElapsed < .milliseconds(150), "only one direction is delayed: \(oneWayElapsed)")

            proxy.heal()
            let (_, healedElapsed) = await timed(client, RESPCommand("PING"))
            #expect(healedElapsed < .milliseconds(75), "\(healedElapsed)")
            #expect(proxy.acceptedCount == 1)
        }
    }

    @Test func jitterNeverReordersBytes() async throws {
        try await withProxiedClient { _, proxy, client throws in
            proxy.set(.latency(.milliseconds(2), jitter: .milliseconds(30)))
            // Pipelined on one connection: any reordering would hand a task another task's reply.
            try await withThrowingTaskGroup(of: Void.self) { group throws in
                for index in 0..<200 {
                    group.addTask {
                        let reply = try await client.execute(RESPCommand("ECHO", "message-\(index)")).decode(as: String.self)
                        #expect(reply == "message-\(index)")
                    }
                }
                try await group.waitForAll()
            }
            #expect(proxy.acceptedCount == 1)
        }
    }

    @Test func blackholeMakesCommandsHitTheirDeadlineAndHealRestores() async throws {
        try await withProxiedClient(commandTimeout: .milliseconds(300)) { _, proxy, client throws in
            #expect(try await ping(client) == "PONG")
            proxy.blackhole(.both)
            let (result, elapsed) = await timed(client, RESPCommand("PING"))
            #expect(failure(of: result)?.code == .timeout, "\(result)")
            #expect(failure(of: result)?.mayHaveRun == true)
            #expect(elapsed >= .milliseconds(250), "\(elapsed)")
            #expect(elapsed < .milliseconds(1000), "\(elapsed)")

            proxy.heal()
            // The timed-out connection was retired; the client dials again through the healed proxy.
            #expect(try await ping(client) == "PONG")
            #expect(proxy.acceptedCount == 2)
        }
    }

    @Test func blackholedRepliesLoseTheAnswerNotTheWrite() async throws {
        try await withProxiedClient(commandTimeout: .milliseconds(300)) { server, proxy, client throws in
            #expect(try await ping(client) == "PONG")
            proxy.blackhole(.serverToClient)
            let (result, _) = await timed(client, RESPCommand("SET", "written", "yes"))
            #expect(failure(of: result)?.code == .timeout, "\(result)")
            // The command did run: exactly why a timed-out write reports mayHaveRun.
            #expect(failure(of: result)?.mayHaveRun == true)
            #expect(try server.cli("GET", "written") == "yes")
            proxy.heal()
            #expect(try await client.execute(RESPCommand("GET", "written")).decode(as: String.self) == "yes")
        }
    }

    @Test func stallHoldsBytesUntilHealedWithoutLosingThem() async throws {
        try await withProxiedClient { _, proxy, client throws in
            #expect(try await ping(client) == "PONG")
            proxy.set(.stall(.both))
            async let stalled = timed(client, RESPCommand("ECHO", "held"))
            try await Task.sleep(for: .milliseconds(200))
            proxy.heal()
            let (result, elapsed) = await stalled
            #expect((try? result.get().decode(as: String.self)) == "held", "\(result)")
            #expect(elapsed >= .milliseconds(150), "\(elapsed)")
            // Same connection: nothing was lost, so nothing had to be retried.
            #expect(proxy.acceptedCount == 1)
        }
    }

    @Test func resetAllFailsCommandsInFlightAndTheClientReconnects() async throws {
        try await withProxiedClient(commandTimeout: .seconds(3)) { _, proxy, client throws in
            #expect(try await ping(client) == "PONG")
            async let blocked = timed(client, RESPCommand("BLPOP", "nothing", 5))
            try await Task.sleep(for: .milliseconds(150))
            await proxy.resetAll()
            let (result, elapsed) = await blocked
            #expect(failure(of: result)?.code == .connectionLost, "\(result)")
            #expect(failure(of: result)?.mayHaveRun == true)
            #expect(elapsed < .seconds(1), "the reset is noticed at once, not at the deadline: \(elapsed)")
            #expect(try await ping(client) == "PONG")
            #expect(proxy.acceptedCount == 2)
        }
    }

    @Test func bandwidthLimitMeasurablySlowsALargeValue() async throws {
        try await withProxiedClient { _, proxy, client throws in
            let value = String(repeating: "v", count: 256 * 1024)
            _ = try await client.execute(RESPCommand("SET", "large", value))
            let (fast, fastElapsed) = await timed(client, RESPCommand("GET", "large"))
            #expect((try? fast.get().decode(as: String.self)) == value)

            proxy.set(.bandwidth(bytesPerSecond: 1_000_000, direction: .serverToClient))
            let (slow, slowElapsed) = await timed(client, RESPCommand("GET", "large"))
            #expect((try? slow.get().decode(as: String.self)) == value)
            // 262 KB at 1 MB/s takes about 262 ms; a loopback GET without the limit takes a few.
            #expect(slowElapsed >= .milliseconds(220), "\(slowElapsed)")
            #expect(slowElapsed < .seconds(1), "\(slowElapsed)")
            #expect(slowElapsed > fastElapsed * 3, "\(fastElapsed) → \(slowElapsed)")

            // Commands are small: the limit on the other direction barely shows.
            let (_, pingElapsed) = await timed(client, RESPCommand("PING"))
            #expect(pingElapsed < .milliseconds(100), "\(pingElapsed)")
        }
    }

    @Test func frozenHalfOpenConnectionMakesTheDeadlineFireAndStaysOpen() async throws {
        try await withProxiedClient(commandTimeout: .milliseconds(300), clientName: "half-open") {
            server, proxy, client throws in
            #expect(try await ping(client) == "PONG")
            await proxy.halfOpen()
            let (result, elapsed) = await timed(client, RESPCommand("PING"))
            #expect(failure(of: result)?.code == .timeout, "\(result)")
            #expect(elapsed >= .milliseconds(250), "\(elapsed)")
            #expect(elapsed < .milliseconds(1000), "\(elapsed)")

            // New connections are healthy; the frozen one is still open on the server's side.
            #expect(try await ping(client) == "PONG")
            #expect(proxy.acceptedCount == 2)
            #expect(proxy.connectionCount == 2)
            let named = try server.cli("CLIENT", "LIST").split(separator: "\n").filter { $0.contains(" name=half-open ") }
            #expect(named.count == 2, "\(named)")

            await proxy.resetAll()
            #expect(proxy.connectionCount == 0)
        }
    }

    @Test func finToServerLeavesTheClientWaitingOnAnOpenSocket() async throws {
        try await withProxiedClient(commandTimeout: .milliseconds(300)) { _, proxy, client throws in
            #expect(try await ping(client) == "PONG")
            await proxy.halfOpen(.finToServer)
            let (result, elapsed) = await timed(client, RESPCommand("PING"))
            #expect(failure(of: result)?.code == .timeout, "\(result)")
            #expect(elapsed >= .milliseconds(250), "\(elapsed)")
            #expect(try await ping(client) == "PONG")
            #expect(proxy.acceptedCount == 2)
        }
    }

    @Test func finToClientEndsTheClientsConnectionAndItDialsAgain() async throws {
        try await withProxiedClient(commandTimeout: .milliseconds(500)) { _, proxy, client throws in
            #expect(try await ping(client) == "PONG")
            await proxy.halfOpen(.finToClient)
            // The client sees the FIN as a lost connection (never a hang) and dials again.
            var codes: [RedisClientError.Code] = []
            let deadline = ContinuousClock.now + .seconds(2)
            var answered = false
            while !answered, ContinuousClock.now < deadline {
                let (result, elapsed) = await timed(client, RESPCommand("PING"))
                #expect(elapsed < .milliseconds(450), "\(elapsed)")
                switch result {
                case .success: answered = true
                case .failure(let error): codes.append(error.code)
                }
            }
            #expect(answered)
            #expect(codes.allSatisfy { $0 == .connectionLost }, "\(codes)")
            #expect(proxy.acceptedCount == 2)
        }
    }

    @Test func stopClosesTheListenerAndEveryConnection() async throws {
        try await RedisServer.withServer { server throws in
            let proxy = try await FaultProxy.start(upstream: server.port)
            var configuration = try RedisConfiguration(url: proxy.url)
            configuration.commandTimeout = .milliseconds(500)
            configuration.connectTimeout = .milliseconds(500)
            try await RedisClient.withClient(configuration: configuration) { client throws in
                #expect(try await ping(client) == "PONG")
                await proxy.stop()
                #expect(proxy.connectionCount == 0)
                let (result, _) = await timed(client, RESPCommand("PING"))
                #expect(failure(of: result) != nil)
                let (again, elapsed) = await timed(client, RESPCommand("PING"))
                #expect(failure(of: again)?.code == .connectionFailed || failure(of: again)?.code == .unavailable, "\(again)")
                #expect(elapsed < .seconds(1))
            }
            await proxy.stop()
        }
    }
}
