import Locky
import LockyTestSupport
import Synchronization
import Testing

/// Fair mode: waiters of every process acquire in arrival order; dead waiters are evicted.
@Suite("Fair waiting")
struct FairWaitingTests {
    enum Kind: String, CaseIterable, Sendable {
        case memory, redis
    }

    /// Runs `body` with a client on a fresh backend of `kind` (a real redis-server for Redis).
    func withFairClient(_ kind: Kind, _ body: (LockClient, RedisServer?) async throws -> Void) async throws {
        switch kind {
        case .memory:
            let client = try LockClient(configuration: LockyConfiguration(backend: .memory))
            try await body(client, nil)
            await client.close()
        case .redis:
            try await RedisServer.withServer { server throws in
                let client = try LockClient(configuration: LockyConfiguration(url: server.url))
                do {
                    try await body(client, server)
                    await client.close()
                } catch {
                    await client.close()
                    throw error
                }
            }
        }
    }

    @Test(arguments: Kind.allCases)
    func waitersAcquireInArrivalOrder(kind: Kind) async throws {
        try await withFairClient(kind) { client, _ in
            let holder = try await client.tryAcquire("fifo", ttl: .seconds(30))
            let order = ArrivalLog()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<5 {
                    group.addTask {
                        let lease = try await client.acquire("fifo", ttl: .seconds(30), timeout: .seconds(20), fair: true)
                        order.entries.withLock { $0.append(index) }
                        try await Task.sleep(for: .milliseconds(5))
                        _ = try await client.release(lease)
                    }
                    // Let each waiter take its place before the next one arrives.
                    try await Task.sleep(for: .milliseconds(60))
                }
                _ = try await client.release(holder)
                try await group.waitForAll()
            }
            #expect(order.entries.withLock { $0 } == [0, 1, 2, 3, 4])
        }
    }

    @Test(arguments: Kind.allCases)
    func aWaiterThatStoppedRefreshingIsEvicted(kind: Kind) async throws {
        try await withFairClient(kind) { client, _ in
            let holder = try await client.tryAcquire("dead", ttl: .seconds(30))
            // A waiter that queues once and is never heard of again (it crashed).
            let reply = try await client.backend.acquireFair(
                "dead", owner: "ghost", ttl: .seconds(30), waiter: "ghost-waiter", waiterTTL: .milliseconds(200)
            )
            if case .acquired = reply { Issue.record("the ghost waiter must be queued behind the holder") }
            let clock = ContinuousClock()
            let start = clock.now
            async let live = client.acquire("dead", ttl: .seconds(30), timeout: .seconds(10), fair: true)
            try await Task.sleep(for: .milliseconds(50))
            _ = try await client.release(holder)
            let lease = try await live
            // Evicted at the latest when the live waiter refreshes its place after the ghost's deadline.
            #expect(clock.now - start < .seconds(3))
            #expect(lease.fencingToken == 2)
            _ = try await client.release(lease)
        }
    }

    @Test(arguments: Kind.allCases)
    func aTimedOutWaiterLeavesTheQueue(kind: Kind) async throws {
        try await withFairClient(kind) { client, server in
            let holder = try await client.tryAcquire("leave", ttl: .seconds(30))
            await #expect(throws: LockError.self) {
                _ = try await client.acquire("leave", ttl: .seconds(30), timeout: .milliseconds(200), fair: true)
            }
            if let server {
                #expect(try server.cli("ZCARD", "locky:{leave}:queue") == "0")
            }
            // The queue does not hold up the next waiter.
            _ = try await client.release(holder)
            let next = try await client.acquire("leave", ttl: .seconds(30), timeout: .seconds(2), fair: true)
            _ = try await client.release(next)
        }
    }

    @Test func fairWaitingTakesOneResource() async throws {
        let client = try LockClient(configuration: LockyConfiguration(backend: .memory))
        await #expect(throws: LockError.self) {
            _ = try await client.acquire(["a", "b"], timeout: .seconds(1), fair: true)
        }
    }
}

/// The order in which waiters got the lock.
final class ArrivalLog: Sendable {
    let entries = Mutex<[Int]>([])
}
