import Locky
import LockyTestSupport
import Testing

/// A waiting acquire on Redlock when too few nodes are up.
@Suite("Redlock waiting without a quorum")
struct RedlockWaitingTests {
    /// `EVALSHA` calls on `server` since the last `CONFIG RESETSTAT`.
    static func scriptCalls(on server: RedisServer) throws -> Int {
        let stats = try server.cli("INFO", "commandstats")
        guard let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_evalsha:") }),
            let calls = line.split(separator: "=").dropFirst().first?.split(separator: ",").first
        else { return 0 }
        return Int(calls) ?? -1
    }

    /// Each failed attempt gives back what it got, and that release woke the waiter itself: it
    /// retried back to back (about 400 attempts a second against the node still up) and never
    /// counted its retries. Now it retries after `retry.delay ± jitter`, `retry.count` times.
    @Test func retriesAfterTheDelayAndGivesUpAfterTheCount() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            servers[1].kill()
            servers[2].kill()
            let retry = RetryPolicy(count: 3, delay: .milliseconds(100), jitter: .milliseconds(10))
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers, retry: retry))
            _ = try servers[0].cli("CONFIG", "RESETSTAT")
            let start = ContinuousClock.now
            let error = await expectLockError(.quorumNotReached) {
                _ = try await client.acquire("job", ttl: .seconds(10), timeout: .seconds(5))
            }
            let elapsed = ContinuousClock.now - start
            #expect(error?.nodes.count == 3)
            // One try and 3 retries, 100 ms apart: not the 5 s wait, not hundreds of attempts.
            #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(2), "\(elapsed)")
            let calls = try Self.scriptCalls(on: servers[0])
            // Per attempt an acquire and the give-back (plus a script load after the reset).
            #expect(calls >= 4 && calls <= 12, "\(calls) script calls")

            // A negative count retries until the wait deadline, still at the delay.
            let forever = try LockClient(
                configuration: try RedlockFaultTests.configuration(
                    servers, retry: RetryPolicy(count: -1, delay: .milliseconds(100), jitter: .milliseconds(10))))
            _ = try servers[0].cli("CONFIG", "RESETSTAT")
            let waited = ContinuousClock.now
            _ = await expectLockError(.quorumNotReached) {
                _ = try await forever.acquire("job", ttl: .seconds(10), timeout: .seconds(1))
            }
            // The last try comes at the deadline, not up to a retry delay before it.
            #expect(ContinuousClock.now - waited >= .milliseconds(980))
            let untilDeadline = try Self.scriptCalls(on: servers[0])
            #expect(untilDeadline >= 10 && untilDeadline <= 30, "\(untilDeadline) script calls in 1 s")
            await forever.close()
            await client.close()
        }
    }
}
