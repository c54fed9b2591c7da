import Locky
import LockyRESP
import LockyTestSupport
import Testing

/// The waiting acquire against a foreign holder, and with many local waiters on one resource.
@Suite("Waiting review: probes")
struct WaitingReviewProbeTests {
    /// A foreign client (another library on the same key) holds one of two resources without
    /// expiry, then deletes its key: nothing is published and there is no expiry to watch, so
    /// the waiter must still find out by trying again now and then (as a queued waiter does
    /// when it refreshes its place), not wait until its deadline (or forever without one).
    @Test func aForeignReleaseOfAKeyWithoutExpiryIsNoticed() async throws {
        try await withBackend(.redis, clock: .system) { env throws in
            let server = try #require(env.server)
            _ = try server.cli("SET", env.keyspace.lockKey("fa"), "foreign")
            let started = ContinuousClock.now
            async let waiting = env.client.acquire(["fa", "fb"], ttl: .seconds(10), timeout: .seconds(5))
            try await Task.sleep(for: .milliseconds(100))
            _ = try server.cli("DEL", env.keyspace.lockKey("fa"))
            do {
                let lease = try await waiting
                let waited = ContinuousClock.now - started
                #expect(waited < .milliseconds(1500), "the waiter got the locks \(waited) after the start")
                #expect(try await env.client.release(lease) == .released)
            } catch let error as LockError {
                Issue.record("\(error.code) after \(ContinuousClock.now - started), the key was deleted after 100 ms")
            }
        }
    }

    /// Many local waiters queued on one resource (Redis) each get it once, one at a time, and
    /// leave nothing behind.
    @Test(arguments: [200]) func manyLocalWaitersOnOneResourceEachGetItOnce(n: Int) async throws {
        try await withBackend(.redis, clock: .system) { env throws in
            let client = env.client
            let holder = try await client.acquire("many", ttl: .seconds(30), timeout: .zero)
            let holding = Shared(0)
            let overlaps = Shared(0)
            let done = Shared(0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<n {
                    group.addTask {
                        let lease = try await client.acquire("many", ttl: .seconds(30), timeout: .seconds(120))
                        if holding.update({ count -> Int in
                            count += 1
                            return count
                        }) > 1 {
                            overlaps.update { $0 += 1 }
                        }
                        holding.update { $0 -= 1 }
                        #expect(try await client.release(lease) == .released)
                        done.update { $0 += 1 }
                    }
                }
                try await env.waitUntilQueued("many", n)
                #expect(try await client.release(holder) == .released)
                try await group.waitForAll()
            }
            #expect(done.value == n)
            #expect(overlaps.value == 0)
            #expect(try await env.storedOwner("many") == nil)
        }
    }

    /// Two local waiters for several resources queue behind one holder; the first is cancelled.
    /// The one behind it is then the first: the holder's release wakes it at once.
    @Test(arguments: [BackendKind.redis, .redlock])
    func theWaiterBehindACancelledFirstOneIsWokenByTheRelease(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let holder = try await client.acquire("ca", ttl: .seconds(30), timeout: .zero)
            let first = Task { try await client.acquire(["ca", "cb"], ttl: .seconds(10), timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
            let second = Task { try await client.acquire(["ca", "cc"], ttl: .seconds(10), timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
            first.cancel()
            await #expect(throws: LockError.self) { try await first.value }
            try await Task.sleep(for: .milliseconds(100))
            let released = ContinuousClock.now
            #expect(try await client.release(holder) == .released)
            let lease = try await within(.seconds(10), "the second waiter") { try await second.value }
            let waited = ContinuousClock.now - released
            #expect(waited < .milliseconds(500), "the second waiter got the locks \(waited) after the release")
            #expect(try await client.release(lease) == .released)
            #expect(try await env.storedOwner("cb") == nil)
        }
    }

    /// A fair wait with no time to wait takes a free lock, and on a held one times out at once
    /// leaving no place in the queue behind.
    @Test(arguments: queueingBackendKinds)
    func aFairWaitWithoutTimeLeavesNoPlace(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let lease = try await client.acquire("fz", ttl: .seconds(10), timeout: .zero, fair: true)
            let started = ContinuousClock.now
            await #expect {
                try await client.acquire("fz", ttl: .seconds(10), timeout: .zero, fair: true)
            } throws: { error in
                (error as? LockError)?.code == .timedOut
            }
            #expect(ContinuousClock.now - started < .seconds(1))
            if env.server != nil { #expect(try await env.queuedWaiters("fz") == 0) }
            #expect(try await client.release(lease) == .released)
            #expect(try await env.storedOwner("fz") == nil)
        }
    }
}
