import LockyRESP
import LockyTestSupport
import Synchronization
import Testing

@testable import LockyRedis

/// Session 19 review: invariants of the connection layer under many faults at once, which no
/// defect broke but a regression could. Each asserts what must hold, never how fast.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ConnectionReviewStressTests {
    /// How one caller of ``noReplyEverReachesAnotherCaller()`` waits for its ECHO.
    private enum Mode: UInt64, CaseIterable {
        case cancelledMaybe, waitLimited, batch, plain
    }

    /// Twelve callers ECHO unique values while the server is killed and restarted, frozen past
    /// the command deadline, and has its connections killed; half the callers are cancelled
    /// at random, others wait a random 1–50 ms at most, others send batches. No success may
    /// ever carry another caller's value, and the client works afterwards.
    @Test func noReplyEverReachesAnotherCaller() async throws {
        try await RedisServer.withServer { server throws in
            var configuration = try configuration(for: server, commandTimeout: .milliseconds(400))
            configuration.reconnect = RedisReconnectPolicy(initialDelay: .milliseconds(5), maximumDelay: .milliseconds(50))
            try await RedisClient.withClient(configuration: configuration) { client throws in
                let mismatches = Shared<[String]>([])
                let stop = Shared<Bool>(false)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<12 {
                        group.addTask {
                            var generator = SplitMix64(seed: UInt64(worker))
                            var round = 0
                            while !stop.withLock({ $0 }) {
                                round += 1
                                let value = "w\(worker)-\(round)"
                                let mode = Mode(rawValue: generator.next() % 4) ?? .plain
                                let cancel = generator.next() % 2 == 0
                                let limit = Duration.milliseconds(Int64(generator.next() % 50 + 1))
                                for result in await Self.echo(value, on: client, mode: mode, cancel: cancel, limit: limit) {
                                    guard case .success(let token) = result else { continue }
                                    let got = (try? token.decode(as: String.self)) ?? "?"
                                    if got != value { mismatches.withLock { $0.append("\(value) got \(got)") } }
                                }
                            }
                        }
                    }
                    for round in 0..<6 {
                        try await Task.sleep(for: .milliseconds(300))
                        switch round % 3 {
                        case 0:
                            server.kill()
                            try await server.restart()
                        case 1:
                            server.pause()
                            try await Task.sleep(for: .milliseconds(600))
                            server.resume()
                        default:
                            _ = try? server.cli("CLIENT", "KILL", "TYPE", "normal")
                        }
                    }
                    try await Task.sleep(for: .milliseconds(300))
                    stop.withLock { $0 = true }
                    try await group.waitForAll()
                }
                let wrong = mismatches.withLock { $0 }
                #expect(wrong.count == 0, "\(wrong.count) replies reached another caller: \(wrong.prefix(5))")
                let recovered = await eventually(within: .seconds(5)) {
                    (try? await run(client, RESPCommand("ECHO", "end"), as: String.self)) == "end"
                }
                #expect(recovered)
            }
        }
    }

    /// One ECHO of `value` (two for a batch), waited for as `mode` says.
    private static func echo(
        _ value: String, on client: RedisClient, mode: Mode, cancel: Bool, limit: Duration
    ) async -> [Result<RESPToken, RedisClientError>] {
        let command = RESPCommand("ECHO", value)
        switch mode {
        case .cancelledMaybe:
            let task = Task { () -> Result<RESPToken, RedisClientError> in
                do throws(RedisClientError) {
                    return .success(try await client.execute(command))
                } catch {
                    return .failure(error)
                }
            }
            if cancel { task.cancel() }
            return [await task.value]
        case .waitLimited:
            let result = await RedisClient.withReplyWaitLimit(limit) { () async -> Result<RESPToken, RedisClientError> in
                do throws(RedisClientError) {
                    return .success(try await client.execute(command))
                } catch {
                    return .failure(error)
                }
            }
            return [result]
        case .batch:
            return await client.execute(batch: [command, command])
        case .plain:
            do throws(RedisClientError) {
                return [.success(try await client.execute(command))]
            } catch {
                return [.failure(error)]
            }
        }
    }

    /// `close()` racing 40 callers (commands, and subscriptions on the pub/sub connection) at
    /// every point of the first connection: each call returns, with its reply or `closed`.
    @Test func closeRacingCallersEndsEachWithItsReplyOrClosed() async throws {
        try await RedisServer.withServer { server throws in
            for round in 0..<20 {
                let client = try RedisClient(configuration: configuration(for: server))
                let outcomes = await withTaskGroup(of: String.self) { group in
                    for index in 0..<40 {
                        group.addTask {
                            do {
                                if index % 3 == 0 {
                                    return try await client.subscribe(channels: ["c\(index % 5)"]) { _ in "ok" }
                                }
                                _ = try await client.execute(RESPCommand("ECHO", "\(index)"))
                                return "ok"
                            } catch let error as RedisClientError {
                                return error.code == .closed ? "closed" : "\(error)"
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                    group.addTask {
                        try? await Task.sleep(for: .microseconds(200 * round))
                        await client.close()
                        return "ok"
                    }
                    var outcomes: Set<String> = []
                    for await outcome in group { outcomes.insert(outcome) }
                    return outcomes
                }
                #expect(outcomes.isSubset(of: ["ok", "closed"]), "round \(round): \(outcomes)")
            }
        }
    }

    /// Scripts run by eight callers while the server restarts empty three times and its script
    /// cache is flushed 30 times: `NOSCRIPT` never reaches a caller, every reply is the
    /// caller's own, and a failure is only the connection's (lost, or not yet back).
    @Test func scriptsSurviveRestartsAndFlushesInFlight() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                let loadedOnDemand = RedisScript(name: "echo-a", source: "return 'a' .. ARGV[1]")
                let preloaded = RedisScript(name: "echo-b", source: "return 'b' .. ARGV[1]")
                client.preload([preloaded])
                let wrong = Shared<[String]>([])
                let stop = Shared<Bool>(false)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            let (script, prefix) = worker.isMultiple(of: 2) ? (loadedOnDemand, "a") : (preloaded, "b")
                            var round = 0
                            while !stop.withLock({ $0 }) {
                                round += 1
                                var command = script.evalSHA(keyCount: 0)
                                command.append("\(worker)-\(round)")
                                let reply: RESPToken
                                do throws(RedisClientError) {
                                    reply = try await client.run(script, command)
                                } catch {
                                    let connection: [RedisClientError.Code] = [.connectionLost, .connectionFailed, .unavailable]
                                    if !connection.contains(error.code) { wrong.withLock { $0.append("\(error)") } }
                                    continue
                                }
                                let got = (try? reply.decode(as: String.self)) ?? "?"
                                if got != "\(prefix)\(worker)-\(round)" { wrong.withLock { $0.append("got \(got)") } }
                            }
                        }
                    }
                    for _ in 0..<3 {
                        for _ in 0..<10 {
                            _ = try? server.cli("SCRIPT", "FLUSH")
                            try await Task.sleep(for: .milliseconds(20))
                        }
                        server.kill()
                        try await server.restart()
                    }
                    try await Task.sleep(for: .milliseconds(300))
                    stop.withLock { $0 = true }
                    try await group.waitForAll()
                }
                let failures = wrong.withLock { $0 }
                #expect(failures.count == 0, "\(failures.count): \(failures.prefix(5))")
            }
        }
    }

    /// A subscription to channels and a pattern across two restarts and two killed pub/sub
    /// connections: exactly one gap per outage, and messages flow after each.
    @Test func aSubscriptionIsToldOfEachOutageExactlyOnce() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                try await client.subscribe(channels: ["a", "b"], patterns: ["p.*"]) { subscription throws in
                    try await EventLog.collecting(subscription) { log throws in
                        for round in 1...4 {
                            if round.isMultiple(of: 2) {
                                _ = try server.cli("CLIENT", "KILL", "TYPE", "pubsub")
                            } else {
                                server.kill()
                                try await server.restart()
                            }
                            let told = await eventually(within: .seconds(5)) {
                                log.snapshot.filter { $0 == .gap }.count >= round
                            }
                            #expect(told, "round \(round): \(log.snapshot.count) events")
                            #expect(try await run(client, RESPCommand("PUBLISH", "a", "a\(round)"), as: Int.self) == 1)
                            #expect(try await run(client, RESPCommand("PUBLISH", "p.x", "p\(round)"), as: Int.self) == 1)
                            _ = await log.wait(forCount: round * 3)
                        }
                        try await Task.sleep(for: .milliseconds(200))
                        #expect(log.snapshot.filter { $0 == .gap }.count == 4)
                        #expect(log.messages.map(\.payloadString) == ["a1", "p1", "a2", "p2", "a3", "p3", "a4", "p4"])
                    }
                }
            }
        }
    }

    /// URLs assembled from the pieces that trip parsers (brackets, escapes, huge numbers,
    /// non-ASCII digits, empty parts): each is refused with a typed error or gives a
    /// configuration that validates; none traps.
    @Test func urlsAssembledFromAwkwardPiecesNeverTrap() {
        let pieces = [
            "redis://", "rediss://", "unix://", "REDIS://", ":", "@", "/", "?", "&", "=", "[", "]", "%", "%2", "%25", "%zz",
            "%C3", "%A9", "%00", "::1", "h", "127.0.0.1", "6379", "0", "99999999999999999999", "-", "+", "db", "name", "ca",
            "cert", "key", "sni", "verify", "insecure", "protocol", "timeout", "1.5s", "1e9", "\u{0}", "é", "٣", "½", "#", " ",
            "\r\n", ".", "ms", "keepalive", "off", "user", "pass", "@/", "//", "unix:///", "[::1]", "connect_timeout", "9e9s",
            "0.0000000001ns", "999999999999d", "Ⅻ", "µs",
        ]
        var generator = SplitMix64(seed: 19)
        var invalid: [String] = []
        for _ in 0..<60_000 {
            var url = ""
            for _ in 0..<(generator.next() % 12 + 1) { url += pieces[Int(generator.next() % UInt64(pieces.count))] }
            if let configuration = try? RedisConfiguration(url: url), (try? configuration.validate()) == nil {
                invalid.append(url)
            }
        }
        #expect(invalid.isEmpty, "accepted but invalid: \(invalid.prefix(5))")
    }
}
