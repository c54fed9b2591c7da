import Locky
import LockyRedis
import LockyTestSupport
import Testing

/// Waiting acquires on Redlock while a node's wake subscription is missing: the backend then
/// wakes waiters with a gap every `retry.delay` (its degraded wake mode).
@Suite("Degraded wake-ups")
struct DegradedWakeTests {
    /// Five local waiters of one resource, a node that refuses SUBSCRIBE, the holder keeps the
    /// lock: only the first local waiter retries at each gap, as with a release; the others
    /// wait behind it. Before, every gap woke all five, so the attempts grew with the number of
    /// local waiters (about 5 × 12 in 1.5 s, against about 12 + 5 now).
    @Test func eachGapWakesOneLocalWaiterPerResource() async throws {
        try await SubscribeRefusingNodes.with { servers, urls in
            let configuration = LockyConfiguration(
                backend: .redlock(RedlockConfiguration(nodes: try urls.map { try RedisConfiguration(url: $0) })),
                retry: RetryPolicy(count: -1, delay: .milliseconds(100), jitter: .milliseconds(10)))
            let holder = try LockClient(configuration: configuration)
            let waiters = try LockClient(configuration: configuration)
            let lease = try await holder.tryAcquire("job", ttl: .seconds(30))
            try servers[0].cli("CONFIG", "RESETSTAT")
            let count = 5
            let timedOut = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<count {
                    group.addTask {
                        do {
                            _ = try await waiters.acquire("job", ttl: .seconds(5), timeout: .milliseconds(1500))
                            return false
                        } catch {
                            return (error as? LockError)?.code == .timedOut
                        }
                    }
                }
                var timedOut = 0
                for try await outcome in group where outcome { timedOut += 1 }
                return timedOut
            }
            #expect(timedOut == count)
            let attempts = try RedlockWaitingTests.scriptCalls(on: servers[0])
            // One attempt each to queue, about one per gap (100–125 ms) for the first, and one
            // each at the deadline: about 30; every waiter at every gap made about 70.
            #expect(attempts <= 40, "\(attempts) attempts by \(count) local waiters in 1.5 s")
            _ = try await holder.release(lease)
            await holder.close()
            await waiters.close()
        }
    }
}
