import Locky
import Testing

/// The memory backend on a ``ManualLockClock``: expiry-based wake-ups, timeouts and expiry
/// events happen when the test moves time, never before.
@Suite("Memory backend on a manual clock")
struct ManualClockWaitingTests {
    /// Starts a waiting acquire and returns once it has tried (and found the lock busy).
    private func startWaiter(
        _ env: LockEnvironment,
        timeout: Duration?,
        finished: Shared<Bool>
    ) async throws -> Task<Lease, any Error> {
        let client = env.client
        let before = env.backend.calls
        let waiter = Task {
            defer { finished.update { $0 = true } }
            return try await client.acquire("r", ttl: .seconds(5), timeout: timeout)
        }
        let attempted = try await eventually { env.backend.calls > before }
        try #require(attempted, "the waiter never tried")
        try await Task.sleep(for: .milliseconds(50))
        return waiter
    }

    @Test func aCrashedHoldersExpiryWakesTheWaiterWhenTimeReachesIt() async throws {
        try await withBackend(.memory) { env throws in
            let clock = try #require(env.manualClock)
            let holder = try await env.client.tryAcquire("r", ttl: .seconds(10), label: "crashed")
            let finished = Shared(false)
            let waiter = try await startWaiter(env, timeout: nil, finished: finished)

            // Real time passes, manual time does not: nothing happens.
            try await Task.sleep(for: .milliseconds(150))
            #expect(!finished.value, "the waiter got the lock although no time passed")
            clock.advance(by: .milliseconds(9_900))
            try await Task.sleep(for: .milliseconds(150))
            #expect(!finished.value, "the waiter got the lock before the holder's TTL ran out")

            // Past the TTL (and the waiter's jitter of up to 2 ms): it retries and gets it.
            clock.advance(by: .milliseconds(103))
            let lease = try await within(.seconds(5), "the waiter after the expiry") { try await waiter.value }
            #expect(lease.fencingToken == holder.fencingToken + 1)
            #expect(try await env.storedOwner("r") == lease.owner)
            #expect(lease.remaining == .seconds(5) - .milliseconds(52), "validity on the manual clock: \(lease.remaining)")
        }
    }

    @Test func theTimeoutFiresWhenTimeReachesIt() async throws {
        try await withBackend(.memory) { env throws in
            let clock = try #require(env.manualClock)
            let holder = try await env.client.tryAcquire("r", ttl: .seconds(60), label: "holder")
            let finished = Shared(false)
            let waiter = try await startWaiter(env, timeout: .seconds(5), finished: finished)

            clock.advance(by: .milliseconds(4_900))
            try await Task.sleep(for: .milliseconds(150))
            #expect(!finished.value, "the waiter gave up before its timeout")

            clock.advance(by: .milliseconds(100))
            let error = await expectLockError(.timedOut) {
                _ = try await within(.seconds(5), "the waiter at its timeout") { try await waiter.value }
            }
            #expect(error?.holder?.owner == holder.owner)
            #expect(try await env.storedOwner("r") == holder.owner)
        }
    }

    @Test func theEarlierOfTimeoutAndExpiryWins() async throws {
        try await withBackend(.memory) { env throws in
            let clock = try #require(env.manualClock)
            _ = try await env.client.tryAcquire("r", ttl: .seconds(3))
            let finished = Shared(false)
            let waiter = try await startWaiter(env, timeout: .seconds(10), finished: finished)
            clock.advance(by: .seconds(3) + .milliseconds(3))
            let lease = try await within(.seconds(5), "the waiter") { try await waiter.value }
            #expect(lease.isValid)
        }
    }

    @Test func expiryEventsFollowTheManualClock() async throws {
        try await withBackend(.memory) { env throws in
            let clock = try #require(env.manualClock)
            let client = env.client
            let recording = try await LockEventTests.recording(client) { recording in
                _ = try await client.tryAcquire("short", ttl: .seconds(1))
                _ = try await client.tryAcquire("long", ttl: .seconds(60))
                let locked = try await recording.wait { $0.count >= 2 }
                #expect(locked)
                try await Task.sleep(for: .milliseconds(150))
                #expect(!recording.descriptions.contains { $0.hasPrefix("expired") }, "expired although no time passed")
                clock.advance(by: .seconds(2))
                let expired = try await recording.wait { $0.contains("expired short") }
                #expect(expired, "\(recording.descriptions)")
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(
                recording.descriptions == [
                    "locked short by lease for 1000 ms", "locked long by lease for 60000 ms", "expired short",
                ]
            )
        }
    }
}
