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
}
