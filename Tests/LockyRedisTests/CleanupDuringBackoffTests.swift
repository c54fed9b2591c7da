import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// A task that is already cancelled when it calls (a cleanup: the release after a cancelled
/// `withLock` or acquire) waits out a reconnect backoff like any caller, within its patience,
/// and its command is sent. It used to fail at once with `unavailable`, unsent: the lock it
/// meant to release stayed held for its whole TTL. A task cancelled *during* the wait still
/// returns at once, now with `cancelled` (it was `unavailable`, which reads as a dead server).
@Suite(.serialized, .timeLimit(.minutes(1))) struct CleanupDuringBackoffTests {
    /// A backoff long enough to call into, far below the command timeout (5 s).
    static func backingOffClient(_ server: RedisServer) throws -> RedisClient {
        var configuration = try configuration(for: server)
        configuration.reconnect = RedisReconnectPolicy(
            initialDelay: .milliseconds(1500), maximumDelay: .milliseconds(1500), jitter: 0)
        return try RedisClient(configuration: configuration)
    }

    /// Kills the server and makes the client fail one connection attempt, so that it backs off.
    static func forceBackoff(_ client: RedisClient, _ server: RedisServer) async throws {
        _ = try await client.execute(RESPCommand("PING"))
        server.kill()
        // The loss is noticed, the immediate reconnect attempt fails: the client now backs off.
        for _ in 0..<3 { _ = try? await client.execute(RESPCommand("PING"), timeout: .milliseconds(300)) }
        try await server.restart()
    }

    @Test func anAlreadyCancelledCleanupWaitsOutTheBackoffAndIsSent() async throws {
        try await RedisServer.withServer { server throws in
            let client = try Self.backingOffClient(server)
            defer { Task { await client.close() } }
            try await Self.forceBackoff(client, server)
            let cleanup = Task { () async -> (RedisClientError?, Duration) in
                withUnsafeCurrentTask { $0?.cancel() }
                return await clientError { _ = try await client.execute(RESPCommand("SET", "released", "yes")) }
            }
            let (error, elapsed) = await cleanup.value
            #expect(error == nil, "\(String(describing: error)) after \(elapsed)")
            #expect(elapsed < .seconds(4), "\(elapsed)")
            #expect(try server.cli("GET", "released") == "yes", "the cleanup command was sent")
            await client.close()
        }
    }

    @Test func aTaskCancelledDuringTheBackoffReturnsAtOnceWithCancelled() async throws {
        try await RedisServer.withServer { server throws in
            let client = try Self.backingOffClient(server)
            defer { Task { await client.close() } }
            try await Self.forceBackoff(client, server)
            let caller = Task { await clientError { _ = try await client.execute(RESPCommand("SET", "k", "v")) } }
            try await Task.sleep(for: .milliseconds(100))
            let cancelledAt = ContinuousClock.now
            caller.cancel()
            let (error, _) = await caller.value
            #expect(ContinuousClock.now - cancelledAt < .milliseconds(700))
            #expect(error?.code == .cancelled, "\(String(describing: error))")
            #expect(error?.mayHaveRun == false, "nothing was sent")
            #expect(try server.cli("EXISTS", "k") == "0")
            await client.close()
        }
    }
}
