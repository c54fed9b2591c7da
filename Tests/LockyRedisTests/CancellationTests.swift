import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// Cancelling a caller abandons its wait only; the reply stream stays in step.
///
/// Every scenario runs on the client's event loop (test body and the tasks it starts): timing on the shared
/// cooperative pool would depend on whatever other suites compute at the same moment.
@Suite(.serialized, .timeLimit(.minutes(1))) struct CancellationTests {
    static func onEventLoop<T: Sendable>(_ client: RedisClient, _ body: () async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(client.taskExecutor, operation: body)
    }

    @Test func cancelledCallerBehindABlockingCommandReturnsPromptly() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                try await Self.onEventLoop(client) {
                    _ = try await client.execute(RESPCommand("PING"))
                    // WAIT with no replicas blocks the connection for 400 ms. Both callers run on the client's event
                    // loop and note when they finish, so a busy cooperative pool (other suites) cannot skew the timing.
                    let blocking = Task(executorPreference: client.taskExecutor) {
                        () async throws -> (Int, ContinuousClock.Instant) in
                        let replicas = try await run(client, RESPCommand("WAIT", 1, 400), as: Int.self)
                        return (replicas, ContinuousClock.now)
                    }
                    try await Task.sleep(for: .milliseconds(30))
                    let behind = Task(executorPreference: client.taskExecutor) {
                        () async -> (RedisClientError?, ContinuousClock.Instant) in
                        let (error, _) = await clientError { _ = try await client.execute(RESPCommand("INCR", "c")) }
                        return (error, ContinuousClock.now)
                    }
                    try await Task.sleep(for: .milliseconds(50))
                    let cancelledAt = ContinuousClock.now
                    behind.cancel()
                    let (error, finishedAt) = await behind.value
                    #expect(error?.code == .cancelled)
                    #expect(error?.mayHaveRun == true, "the INCR was already written")
                    let elapsed = finishedAt - cancelledAt
                    #expect(elapsed < .milliseconds(150), "cancellation did not wait for the blocked reply: \(elapsed)")

                    let (replicas, blockingFinishedAt) = try await blocking.value
                    #expect(replicas == 0, "WAIT answers the number of replicas: none")
                    #expect(finishedAt < blockingFinishedAt, "the cancelled caller returned before the reply ahead of it")
                    // The cancelled INCR ran; its late reply was dropped, so this one gets its own reply.
                    #expect(try await run(client, RESPCommand("INCR", "c"), as: Int.self) == 2)
                    #expect(try await run(client, RESPCommand("ECHO", "in-step"), as: String.self) == "in-step")
                }
            }
        }
    }

    @Test func cancellingManyCallersKeepsTheOthersInStep() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                try await Self.onEventLoop(client) {
                    let blocking = Task(executorPreference: client.taskExecutor) {
                        try await client.execute(RESPCommand("WAIT", 1, 300))
                    }
                    try await Task.sleep(for: .milliseconds(20))
                    var tasks: [(index: Int, task: Task<String?, Never>)] = []
                    for index in 0..<100 {
                        let task = Task(executorPreference: client.taskExecutor) { () async -> String? in
                            try? await run(client, RESPCommand("ECHO", "v\(index)"), as: String.self)
                        }
                        tasks.append((index, task))
                    }
                    try await Task.sleep(for: .milliseconds(50))
                    for (index, task) in tasks where index % 2 == 0 { task.cancel() }
                    _ = try await blocking.value
                    for (index, task) in tasks {
                        let value = await task.value
                        if index % 2 == 0 {
                            #expect(value == nil, "cancelled caller \(index) got \(value ?? "nil")")
                        } else {
                            #expect(value == "v\(index)", "caller \(index) got another caller's reply")
                        }
                    }
                }
            }
        }
    }

    @Test func alreadyCancelledTaskCanStillSendCleanupCommands() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                try await Self.onEventLoop(client) {
                    _ = try await client.execute(RESPCommand("SET", "lock", "held"))
                    let cleanup = Task(executorPreference: client.taskExecutor) { () async throws -> (String, Int) in
                        // Wait until cancelled, as a lock holder would before releasing in cleanup.
                        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
                        let deleted = try await run(client, RESPCommand("DEL", "lock"), as: Int.self)
                        let batch = await client.execute(batch: [RESPCommand("SET", "released", "yes"), RESPCommand("ECHO", "b")])
                        let echoed = try batch[1].get().decode(as: String.self)
                        return (echoed, deleted)
                    }
                    cleanup.cancel()
                    let (echoed, deleted) = try await cleanup.value
                    #expect(deleted == 1)
                    #expect(echoed == "b")
                    #expect(try server.cli("EXISTS", "lock") == "0")
                    #expect(try server.cli("GET", "released") == "yes")
                }
            }
        }
    }

    @Test func cancelledBatchFailsPromptlyAndKeepsTheStreamInStep() async throws {
        try await RedisServer.withServer { server throws in
            try await withClient(server) { client throws in
                try await Self.onEventLoop(client) {
                    let blocking = Task(executorPreference: client.taskExecutor) { () async throws -> ContinuousClock.Instant in
                        _ = try await client.execute(RESPCommand("WAIT", 1, 400))
                        return ContinuousClock.now
                    }
                    try await Task.sleep(for: .milliseconds(20))
                    let batch = Task(executorPreference: client.taskExecutor) {
                        let results = await client.execute(batch: [RESPCommand("INCR", "n"), RESPCommand("INCR", "n")])
                        return (results, ContinuousClock.now)
                    }
                    try await Task.sleep(for: .milliseconds(50))
                    let cancelledAt = ContinuousClock.now
                    batch.cancel()
                    let (results, finishedAt) = await batch.value
                    #expect(finishedAt - cancelledAt < .milliseconds(150), "\(finishedAt - cancelledAt)")
                    #expect(results.count == 2)
                    for result in results {
                        if case .failure(let error) = result {
                            #expect(error.code == .cancelled)
                        } else {
                            Issue.record("expected a cancelled result, got \(result)")
                        }
                    }
                    #expect(finishedAt < (try await blocking.value))
                    #expect(try await run(client, RESPCommand("INCR", "n"), as: Int.self) == 3)
                }
            }
        }
    }
}
