import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// Session 19 review of the connection layer: close() racing connects, and faults met by many
/// callers at once.
@Suite(.serialized, .timeLimit(.minutes(1))) struct ConnectionReviewTests {
    /// Callers waiting for the client's first connection when `close()` comes fail with
    /// `closed`, as the documentation of `close()` says. Before, when the close caught the TCP
    /// connect in progress, they failed with `connectionFailed` ("cannot connect to …: I/O on
    /// closed channel"), which reads as an unreachable server and is retried by whoever treats
    /// it as transient.
    @Test func callersWaitingForTheFirstConnectionFailWithClosedWhenTheClientCloses() async throws {
        try await RedisServer.withServer { server throws in
            var wrong: [String] = []
            for _ in 0..<20 {
                let client = try RedisClient(configuration: configuration(for: server))
                // On the client's event loop, in this order: the callers start the connection and
                // wait for it, then the close runs while the connect is still under way.
                let callers = (0..<5).map { _ in
                    Task(executorPreference: client.taskExecutor) {
                        await clientError { _ = try await client.execute(RESPCommand("PING")) }.error
                    }
                }
                let closing = Task(executorPreference: client.taskExecutor) { await client.close() }
                for caller in callers {
                    let error = await caller.value
                    // A caller may have got through before the close: that is fine too.
                    if let error, error.code != .closed { wrong.append("\(error)") }
                }
                await closing.value
            }
            #expect(wrong.count == 0, "\(wrong.count) of 100 callers: \(wrong.first ?? "")")
        }
    }

    /// A subscription that ended while the server was down leaves no gap behind: the next
    /// subscription, made once the server is back, was told nothing happened to it. Before, its
    /// first event was a `gap` (the restore still owed one to whoever subscribed next).
    @Test func aSubscriptionMadeAfterAnOutageIsToldOfNoGap() async throws {
        try await RedisServer.withServer { server throws in
            var configuration = try configuration(for: server)
            configuration.reconnect = RedisReconnectPolicy(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(50))
            try await RedisClient.withClient(configuration: configuration) { client throws in
                try await client.subscribe(channels: ["before"]) { _ in
                    server.kill()
                    // The subscriber notices, fails to reconnect, and backs off.
                    try await Task.sleep(for: .milliseconds(200))
                }
                try await server.restart()
                try await client.subscribe(channels: ["after"]) { subscription throws in
                    try await EventLog.collecting(subscription) { log throws in
                        #expect(try await run(client, RESPCommand("PUBLISH", "after", "m"), as: Int.self) == 1)
                        _ = await log.wait(forCount: 1)
                        try await Task.sleep(for: .milliseconds(100))
                        #expect(log.snapshot.count == 1, "\(log.snapshot.count) events, \(log.messages.count) messages")
                        #expect(log.messages.map(\.payloadString) == ["m"])
                    }
                }
            }
        }
    }

    /// Across a restart, the subscription that was live is told of the gap once, and one made
    /// while the subscriber waited out its backoff (confirmed only on the new connection, so it
    /// missed nothing) is told nothing. Before, both got the gap.
    @Test func onlyTheSubscriptionsLiveAtTheOutageAreToldOfItsGap() async throws {
        try await RedisServer.withServer { server throws in
            var configuration = try configuration(for: server)
            configuration.reconnect = RedisReconnectPolicy(initialDelay: .seconds(2), maximumDelay: .seconds(2), jitter: 0)
            try await RedisClient.withClient(configuration: configuration) { client throws in
                try await client.subscribe(channels: ["old"]) { old throws in
                    try await EventLog.collecting(old) { oldLog throws in
                        server.kill()
                        // The attempt right after the loss is refused; the next one is 2 s later.
                        try await Task.sleep(for: .milliseconds(100))
                        try await server.restart()
                        // Registered during the backoff, confirmed after the reconnect.
                        try await client.subscribe(channels: ["new"]) { fresh throws in
                            try await EventLog.collecting(fresh) { newLog throws in
                                #expect(await eventually { oldLog.snapshot.contains(.gap) })
                                #expect(try await run(client, RESPCommand("PUBLISH", "new", "n"), as: Int.self) == 1)
                                #expect(try await run(client, RESPCommand("PUBLISH", "old", "o"), as: Int.self) == 1)
                                _ = await newLog.wait(forCount: 1)
                                _ = await oldLog.wait(forCount: 2)
                                try await Task.sleep(for: .milliseconds(100))
                                #expect(oldLog.snapshot.filter { $0 == .gap }.count == 1)
                                #expect(oldLog.messages.map(\.payloadString) == ["o"])
                                #expect(newLog.snapshot.count == 1, "\(newLog.snapshot.count) events")
                                #expect(newLog.messages.map(\.payloadString) == ["n"])
                            }
                        }
                    }
                }
            }
        }
    }

    /// A task that is already cancelled when it calls still waits for a connection that is being
    /// made, and sends: that is how a lock is released in cleanup code.
    @Test func anAlreadyCancelledCallerStillWaitsForTheConnection() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            let client = try RedisClient(configuration: configuration(for: server, connectTimeout: .seconds(10)))
            let caller = Task {
                // Started while the handshake hangs; cancelled before it calls.
                try? await Task.sleep(for: .seconds(10))
                return await clientError { _ = try await client.execute(RESPCommand("SET", "cleanup", "done")) }.error
            }
            let starter = Task { _ = try? await client.execute(RESPCommand("PING")) }
            try await Task.sleep(for: .milliseconds(300))
            caller.cancel()
            try await Task.sleep(for: .milliseconds(300))
            server.resume()
            let error = await caller.value
            #expect(error == nil, "\(String(describing: error))")
            await starter.value
            #expect(try await run(client, RESPCommand("GET", "cleanup"), as: String.self) == "done")
            await client.close()
        }
    }

    /// A client dropped without `close()` leaves no connection open: its deinit closed the
    /// command connection but not the pub/sub one, which stayed open for good (its keep-alive
    /// pings kept it alive, and its idle channel stayed subscribed: the linger timer had no
    /// subscriber left to run).
    @Test func aDroppedClientLeavesNoPubSubConnectionOpen() async throws {
        try await RedisServer.withServer { server throws in
            func use() async throws {
                let client = try RedisClient(configuration: configuration(for: server, suffix: "?name=dropped"))
                _ = try await client.execute(RESPCommand("PING"))
                try await client.subscribe(channels: ["dropped"]) { _ in }
                #expect(try clientListLines(server, named: "dropped").count == 2)
            }
            try await use()
            let gone = await eventually(within: .seconds(3)) { (try? clientListLines(server, named: "dropped").count) == 0 }
            #expect(gone, "\((try? clientListLines(server, named: "dropped")) ?? [])")
        }
    }

    /// A client dropped while its connections are still being made (a stopped server took the
    /// TCP connections, the callers gave up waiting) leaves nothing open once the server
    /// answers: before, both handshakes completed after the drop, nobody owned the connections,
    /// and they stayed open for good (keep-alive pings).
    @Test func aClientDroppedWhileConnectingLeavesNoConnectionOpen() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            func use() async throws {
                var configuration = try configuration(
                    for: server, suffix: "?name=connecting", commandTimeout: .milliseconds(300), connectTimeout: .seconds(20))
                configuration.subscriptionLinger = .zero
                let client = try RedisClient(configuration: configuration)
                // Both give up long before the connect timeout; the attempts go on.
                let (error, _) = await clientError {
                    _ = try await RedisClient.withReplyWaitLimit(.milliseconds(300)) {
                        try await client.execute(RESPCommand("PING"))
                    }
                }
                #expect(error?.code == .timeout, "\(String(describing: error))")
                let (subscribeError, _) = await clientError { try await client.subscribe(channels: ["c"]) { _ in } }
                #expect(subscribeError?.code == .timeout, "\(String(describing: subscribeError))")
            }
            try await use()
            server.resume()
            // The handshakes are answered now; had anyone kept the connections, they would show.
            try await Task.sleep(for: .milliseconds(500))
            let lines = try clientListLines(server, named: "connecting")
            #expect(lines.isEmpty, "\(lines)")
        }
    }

    /// A subscription the server leaves unconfirmed while the subscriber connection has heard
    /// nothing for the whole command timeout retires that connection, as a command's deadline
    /// retires a silent command connection: the subscriptions it carried are restored on a new
    /// one and told of the gap. Before, a connection whose packets were dropped (a firewall, a
    /// NAT that forgot it) stayed in use until the keep-alive noticed (30 s by default): new
    /// subscriptions kept timing out, and the live ones missed every message with no gap.
    @Test func anUnansweredSubscribeOnASilentConnectionRetiresIt() async throws {
        try await RedisServer.withServer { server throws in
            try await FaultProxy.withProxy(upstream: server.port) { proxy throws in
                var configuration = try RedisConfiguration(url: proxy.url)
                configuration.commandTimeout = .milliseconds(500)
                configuration.connectTimeout = .seconds(1)
                configuration.reconnect = RedisReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(200))
                try await RedisClient.withClient(configuration: configuration) { client throws in
                    try await withClient(server) { publisher throws in
                        try await client.subscribe(channels: ["live"]) { live throws in
                            try await EventLog.collecting(live) { log throws in
                                proxy.blackhole()
                                try await Task.sleep(for: .milliseconds(100))
                                let (error, _) = await clientError { try await client.subscribe(channels: ["new"]) { _ in } }
                                #expect(error != nil)
                                proxy.heal()
                                let told = await eventually(within: .seconds(5)) { log.snapshot.contains(.gap) }
                                #expect(told, "no gap: \(log.snapshot)")
                                let delivered = await eventually(within: .seconds(5)) {
                                    _ = try? await run(publisher, RESPCommand("PUBLISH", "live", "after"), as: Int.self)
                                    return log.messages.contains { $0.payloadString == "after" }
                                }
                                #expect(delivered)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The silence that retires a pub/sub connection counts from the subscribe, not from the
    /// last thing the server sent: a quiet connection whose server is slow to confirm a
    /// subscription with a short timeout is kept, and its live subscriptions are told no gap.
    @Test func aSlowConfirmationOnAQuietConnectionKeepsIt() async throws {
        try await RedisServer.withServer { server throws in
            try await FaultProxy.withProxy(upstream: server.port) { proxy throws in
                var configuration = try RedisConfiguration(url: proxy.url)
                configuration.commandTimeout = .milliseconds(500)
                configuration.keepAliveInterval = nil
                try await RedisClient.withClient(configuration: configuration) { client throws in
                    try await client.subscribe(channels: ["live"]) { live throws in
                        try await EventLog.collecting(live) { log throws in
                            proxy.set(.latency(.milliseconds(150)))
                            // Quiet for longer than the command timeout.
                            try await Task.sleep(for: .milliseconds(800))
                            let (error, _) = await clientError {
                                try await client.subscribe(channels: ["slow"], timeout: .milliseconds(100), handler: { _ in }) {}
                            }
                            #expect(error?.code == .timeout, "\(String(describing: error))")
                            try await Task.sleep(for: .milliseconds(1000))
                            #expect(!log.snapshot.contains(.gap), "\(log.snapshot)")
                        }
                    }
                }
            }
        }
    }
}
