import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// Subscriptions on the dedicated pub/sub connection.
@Suite(.timeLimit(.minutes(1))) struct PubSubTests {
    static func publish(_ client: RedisClient, _ channel: String, _ payload: String) async throws -> Int {
        try await run(client, RESPCommand("PUBLISH", channel, payload), as: Int.self)
    }

    /// A server, and a client on it whose idle channels linger for `linger`.
    static func withServerAndClient(
        linger: Duration, _ body: @Sendable (RedisServer, RedisClient) async throws -> Void
    ) async throws {
        try await RedisServer.withServer { server throws in
            var configuration = RedisConfiguration(address: .tcp(host: server.host, port: server.port))
            configuration.subscriptionLinger = linger
            try await RedisClient.withClient(configuration: configuration) { client in try await body(server, client) }
        }
    }

    static func numberOfSubscribers(_ server: RedisServer, _ channel: String) throws -> String {
        try server.cli("PUBSUB", "NUMSUB", channel).split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
    }

    @Test func subscribeReturnsOnlyAfterConfirmation() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                for round in 0..<100 {
                    let received = try await client.subscribe(channels: ["confirm"]) { subscription throws in
                        try await EventLog.collecting(subscription) { log throws in
                            // Published right away: the server must already count the subscriber.
                            let receivers = try await Self.publish(client, "confirm", "round-\(round)")
                            #expect(receivers == 1, "round \(round)")
                            _ = await log.wait(forCount: 1)
                            return log.messages.map(\.payloadString)
                        }
                    }
                    #expect(received == ["round-\(round)"])
                    if received != ["round-\(round)"] { break }
                }
            }
        }
    }

    @Test func severalSubscriptionsToOneChannelEachGetTheMessage() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                let counts = try await withThrowingTaskGroup(of: [String].self) { group in
                    for _ in 0..<3 {
                        group.addTask {
                            try await client.subscribe(channels: ["shared", "other"]) { subscription throws in
                                try await EventLog.collecting(subscription) { log throws in
                                    _ = await log.wait(forCount: 2)
                                    return log.messages.map { "\($0.channelName)=\($0.payloadString)" }
                                }
                            }
                        }
                    }
                    // The server counts one subscriber connection, however many local subscriptions.
                    #expect(await eventually { (try? Self.numberOfSubscribers(server, "shared")) == "1" })
                    try await Task.sleep(for: .milliseconds(100))
                    #expect(try await Self.publish(client, "shared", "one") == 1)
                    #expect(try await Self.publish(client, "other", "two") == 1)
                    var all: [[String]] = []
                    for try await messages in group { all.append(messages) }
                    return all
                }
                #expect(counts.count == 3)
                for messages in counts {
                    #expect(messages == ["shared=one", "other=two"])
                }
            }
        }
    }

    @Test func nestedSubscriptionsShareTheServerSubscription() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                try await client.subscribe(channels: ["nest"]) { outer throws in
                    try await EventLog.collecting(outer) { outerLog throws in
                        try await client.subscribe(channels: ["nest"]) { inner throws in
                            try await EventLog.collecting(inner) { innerLog throws in
                                #expect(try await Self.publish(client, "nest", "both") == 1)
                                _ = await innerLog.wait(forCount: 1)
                                #expect(innerLog.messages.map(\.payloadString) == ["both"])
                            }
                        }
                        // The inner subscription ended; the outer one still listens.
                        #expect(try await Self.publish(client, "nest", "outer-only") == 1)
                        _ = await outerLog.wait(forCount: 2)
                        #expect(outerLog.messages.map(\.payloadString) == ["both", "outer-only"])
                    }
                }
            }
        }
    }

    @Test func patternSubscriptionReportsThePattern() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                try await client.subscribe(channels: [], patterns: ["news.*"]) { subscription throws in
                    #expect(subscription.patterns == ["news.*"])
                    try await EventLog.collecting(subscription) { log throws in
                        #expect(try await Self.publish(client, "news.sport", "goal") == 1)
                        #expect(try await Self.publish(client, "weather", "rain") == 0)
                        _ = await log.wait(forCount: 1)
                        try await Task.sleep(for: .milliseconds(50))
                        let messages = log.messages
                        #expect(messages.count == 1)
                        #expect(messages.first?.pattern == "news.*")
                        #expect(messages.first?.channelName == "news.sport")
                        #expect(messages.first?.payloadString == "goal")
                    }
                }
                #expect(await eventually { (try? server.cli("PUBSUB", "NUMPAT")) == "0" })
            }
        }
    }

    /// A subscription to a server that cannot be reached fails with that cause at the first
    /// failed attempt, not at the command timeout with "not confirmed in time".
    @Test func subscribingToAnUnreachableServerFailsAtOnce() async throws {
        let port = try FreePort.next()
        let client = try RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:\(port)"))
        let (error, elapsed) = await clientError { try await client.subscribe(channels: ["nobody"]) { _ in } }
        #expect(error?.code == .connectionFailed, "\(String(describing: error))")
        #expect(elapsed < .seconds(2))
        await client.close()
    }

    /// A server (or a proxy in front of a dead one) that drops the subscriber right after its
    /// handshake is reconnected with backoff, not at once in a loop (hundreds of connections a
    /// second before).
    @Test func aConnectionDroppedAfterItsHandshakeIsRetriedWithBackoff() async throws {
        let server = try await ScriptedServer.start { request in
            request.isHandshake ? .standard : .nothing(then: .close)
        }
        let client = try RedisClient(configuration: try RedisConfiguration(url: server.url))
        let (error, _) = await clientError {
            try await client.subscribe(channels: ["dropped"], timeout: .seconds(1), handler: { _ in }) {}
        }
        #expect(error != nil)
        #expect(server.connectionCount < 20, "\(server.connectionCount) connections in 1 s")
        await client.close()
        await server.stop()
    }

    @Test func subscribeWithNothingIsRejected() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                let (error, _) = await clientError { try await client.subscribe(channels: []) { _ in } }
                #expect(error?.code == .invalidArgument)
            }
        }
    }

    /// A channel nobody listens to any more stays subscribed for the linger time: subscribing
    /// to it again is confirmed at once, with no round trip (here while the server is paused);
    /// after the linger time the server sees it unsubscribed.
    @Test func anIdleChannelLingersThenIsUnsubscribed() async throws {
        try await Self.withServerAndClient(linger: .milliseconds(600)) { server, client in
            try await client.subscribe(channels: ["linger"]) { _ in }
            #expect(try Self.numberOfSubscribers(server, "linger") == "1")
            server.pause()
            let start = ContinuousClock.now
            let again: Void? = try? await client.subscribe(
                channels: ["linger"], timeout: .milliseconds(300), handler: { _ in }
            ) {}
            server.resume()
            #expect(again != nil, "subscribing to a lingering channel waited for the server")
            #expect(ContinuousClock.now - start < .milliseconds(300))
            let start2 = ContinuousClock.now
            #expect(await eventually { (try? Self.numberOfSubscribers(server, "linger")) == "0" })
            #expect(ContinuousClock.now - start2 >= .milliseconds(400), "unsubscribed before the linger time")
        }
    }

    /// A task cancelled while the (paused) server has not confirmed its subscription stops
    /// waiting at once with `cancelled`, not at the subscription timeout; once the server is
    /// back, nothing is left subscribed behind it.
    @Test func cancellationEndsTheWaitForConfirmation() async throws {
        try await Self.withServerAndClient(linger: .zero) { server, client in
            // Connect the subscriber first, so the wait below is for the confirmation alone.
            try await client.subscribe(channels: ["warm-up"]) { _ in }
            server.pause()
            let waiter = Task {
                try await client.subscribe(channels: ["paused"], timeout: .seconds(20), handler: { _ in }) {}
            }
            try await Task.sleep(for: .milliseconds(200))
            let start = ContinuousClock.now
            waiter.cancel()
            let result = await waiter.result
            let elapsed = ContinuousClock.now - start
            server.resume()
            #expect(elapsed < .seconds(2), "the cancelled subscribe waited \(elapsed)")
            switch result {
            case .success: Issue.record("a cancelled subscribe to a paused server succeeded")
            case .failure(let error):
                #expect((error as? RedisClientError)?.code == .cancelled, "\(error)")
            }
            #expect(await eventually { (try? Self.numberOfSubscribers(server, "paused")) == "0" })
        }
    }

    /// With no linger the server sees the channel unsubscribed right away.
    @Test func zeroLingerUnsubscribesAtOnce() async throws {
        try await Self.withServerAndClient(linger: .zero) { server, client in
            try await client.subscribe(channels: ["now"]) { _ in }
            #expect(await eventually(within: .milliseconds(300)) { (try? Self.numberOfSubscribers(server, "now")) == "0" })
        }
    }

    @Test func leavingTheClosureUnsubscribes() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                try await client.subscribe(channels: ["leave"]) { _ throws in
                    #expect(try Self.numberOfSubscribers(server, "leave") == "1")
                }
                #expect(await eventually { (try? Self.numberOfSubscribers(server, "leave")) == "0" })

                struct Expected: Error {}
                await #expect(throws: Expected.self) {
                    try await client.subscribe(channels: ["leave-throwing"]) { _ throws in
                        #expect(try Self.numberOfSubscribers(server, "leave-throwing") == "1")
                        throw Expected()
                    }
                }
                #expect(await eventually { (try? Self.numberOfSubscribers(server, "leave-throwing")) == "0" })
            }
        }
    }

    @Test func restartYieldsGapThenDeliversAgain() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                try await client.subscribe(channels: ["survive"]) { subscription throws in
                    try await EventLog.collecting(subscription) { log throws in
                        #expect(try await Self.publish(client, "survive", "before") == 1)
                        _ = await log.wait(forCount: 1)
                        try await server.restart()
                        let events = await log.wait(forCount: 2, within: .seconds(5))
                        #expect(events.count == 2)
                        #expect(events.last == .gap, "\(events)")
                        // After the gap the subscription is confirmed again, so this is delivered.
                        #expect(try await Self.publish(client, "survive", "after") == 1)
                        _ = await log.wait(forCount: 3)
                        #expect(log.messages.map(\.payloadString) == ["before", "after"])
                    }
                }
            }
        }
    }

    /// An ACL change that takes the channel away disconnects the subscriber; restoring the
    /// subscription is then refused. That must not go unnoticed: a gap at once, retries with
    /// backoff, and delivery again (after another gap) once the channel is allowed again.
    /// Before, the refusal left the subscription silent for good: no gap, no error, no retry.
    @Test func aRefusedResubscriptionYieldsAGapAndIsRetried() async throws {
        let user = RedisServer.ACLUser(name: "watcher", password: "watcher-pw", rules: "~* +@all &news")
        try await RedisServer.withServer(.init(aclUsers: [user])) { server throws in
            let url = "redis://watcher:watcher-pw@127.0.0.1:\(server.port)?name=acl-sub"
            var configuration = try RedisConfiguration(url: url)
            configuration.reconnect.initialDelay = .milliseconds(50)
            configuration.reconnect.maximumDelay = .milliseconds(200)
            try await RedisClient.withClient(configuration: configuration) { client throws in
                try await client.subscribe(channels: ["news"]) { subscription throws in
                    try await EventLog.collecting(subscription) { log throws in
                        #expect(try await Self.publish(client, "news", "before") == 1)
                        _ = await log.wait(forCount: 1)
                        // Redis 7 disconnects subscribers of channels their user lost.
                        _ = try server.cli("ACL", "SETUSER", "watcher", "resetchannels")
                        let refused = await log.wait(forCount: 2, within: .seconds(5))
                        // One gap per refused retry: on a loaded machine a second may already be in.
                        #expect(refused.count >= 2 && refused.dropFirst().allSatisfy { $0 == .gap }, "\(refused)")
                        _ = try server.cli("ACL", "SETUSER", "watcher", "&news")
                        let delivered = await eventually(within: .seconds(5)) {
                            (try? await Self.publish(client, "news", "after")) == 1
                        }
                        #expect(delivered, "the subscription was never restored")
                        _ = await eventually(within: .seconds(3)) { log.messages.count == 2 }
                        #expect(log.messages.map(\.payloadString) == ["before", "after"])
                        #expect(log.snapshot.last == .message(log.messages[log.messages.count - 1]))
                    }
                }
            }
        }
    }

    /// After a reconnect the gap comes once every subscription is confirmed again. When the last
    /// one still unconfirmed ends instead (its task left while the server's answer was on its
    /// way), the others are all restored: their gap must come then. Before, it never came (the
    /// check ran only on a confirmation), so what they missed while disconnected went unsaid.
    @Test func theGapComesWhenTheLastUnconfirmedSubscriptionEnds() async throws {
        // A long pattern: its confirmation, throttled below, trickles in well after the channel's.
        let pattern = "slow-pattern-" + String(repeating: "p", count: 60) + "*"
        try await RedisServer.withServer { server throws in
            try await FaultProxy.withProxy(upstream: server.port) { proxy throws in
                var configuration = try RedisConfiguration(url: proxy.url)
                configuration.keepAliveInterval = nil
                try await RedisClient.withClient(configuration: configuration) { client throws in
                    try await client.subscribe(channels: ["kept"]) { kept throws in
                        try await EventLog.collecting(kept) { log throws in
                            try await withThrowingTaskGroup(of: Void.self) { leaving in
                                leaving.addTask {
                                    try await client.subscribe(channels: [], patterns: [pattern]) { _ in
                                        try await Task.sleep(for: .seconds(60))
                                    }
                                }
                                let both = await eventually {
                                    (try? server.cli("PUBSUB", "NUMPAT")) == "1"
                                        && (try? Self.numberOfSubscribers(server, "kept")) == "1"
                                }
                                try #require(both)
                                // The resubscription (SUBSCRIBE kept, then PSUBSCRIBE pattern) is
                                // answered a few bytes at a time: "kept" is confirmed first.
                                proxy.set(.bandwidth(bytesPerSecond: 300, direction: .serverToClient))
                                let accepted = proxy.acceptedCount
                                await proxy.resetAll()
                                try #require(await eventually { proxy.acceptedCount > accepted }, "no reconnect")
                                try await client.subscribe(channels: ["kept"]) { _ in }
                                #expect(log.snapshot.isEmpty, "a gap before the pattern was confirmed: \(log.snapshot)")
                                // The pattern's subscriber leaves before its confirmation is in.
                                leaving.cancelAll()
                                _ = try? await leaving.next()
                            }
                            let events = await log.wait(forCount: 1, within: .seconds(3))
                            #expect(events == [.gap], "\(events)")
                            proxy.heal()
                        }
                    }
                }
            }
        }
    }

    @Test func pubSubOverRESP2() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server, suffix: "?protocol=2", commandTimeout: .seconds(2)) { client throws in
                try await client.subscribe(channels: ["resp2"], patterns: ["resp2.*"]) { subscription throws in
                    try await EventLog.collecting(subscription) { log throws in
                        #expect(try await Self.publish(client, "resp2", "plain") == 1)
                        #expect(try await Self.publish(client, "resp2.x", "patterned") == 1)
                        _ = await log.wait(forCount: 2)
                        let messages = log.messages
                        #expect(messages.map(\.payloadString) == ["plain", "patterned"])
                        #expect(messages.map(\.pattern) == [nil, "resp2.*"])
                    }
                }
            }
        }
    }

    @Test func pubSubWithoutHello() async throws {
        try await RedisServer.withServer(.init(extraConfiguration: ["rename-command HELLO \"\""])) { server throws in
            try await withClient(server, commandTimeout: .seconds(2)) { client throws in
                try await client.subscribe(channels: ["nohello"]) { subscription throws in
                    try await EventLog.collecting(subscription) { log throws in
                        #expect(try await Self.publish(client, "nohello", "m") == 1)
                        _ = await log.wait(forCount: 1)
                        #expect(log.messages.map(\.payloadString) == ["m"])
                    }
                }
            }
        }
    }
}
