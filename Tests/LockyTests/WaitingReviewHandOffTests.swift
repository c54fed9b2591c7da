import Locky
import LockyTestSupport
import Testing

/// A queued waiter that becomes first because a release handed the lock to the one ahead of it.
@Suite("Waiting review: hand-off chains")
struct WaitingReviewHandOffTests {
    /// Queue: a live first waiter of another process, then a fair waiter. The release hands the
    /// lock (300 ms TTL) to the first one, whose process then crashes holding it (it never
    /// releases). The second, first now, must watch that holder's expiry and take the lock soon
    /// after it, as it would behind any crashed holder, not at its next refresh of its place
    /// (every 667 ms).
    @Test(arguments: queueingBackendKinds)
    func theWaiterBehindOneHandedTheLockWatchesItsExpiry(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let backend = env.backend
            try await backend.withWakeHandler(waiter: "feedface.1", { _ in }) {
                let holder = try await client.tryAcquire("chain", ttl: .seconds(30), label: "holder")
                let reply = try await backend.acquireFair(
                    "chain", owner: "crashing-owner", ttl: .milliseconds(300), waiter: "feedface.1", waiterTTL: .seconds(30),
                    attempt: 1)
                guard case .queued(_, first: true) = reply else {
                    Issue.record("the crashing waiter must be queued first behind the holder: \(reply)")
                    return
                }
                let other = try env.otherProcessClient()
                async let waiting = other.acquire("chain", ttl: .seconds(30), label: "second", timeout: .seconds(5), fair: true)
                try await env.waitUntilQueued("chain", 2)
                let released = ContinuousClock.now
                #expect(try await client.release(holder) == .released)
                #expect(try await env.storedOwner("chain") == "crashing-owner", "the release did not hand the lock over")
                let lease = try await waiting
                let waited = ContinuousClock.now - released
                #expect(
                    waited < .milliseconds(300 + 200),
                    "the second waiter got the lock \(waited) after it was handed over for 300 ms")
                #expect(lease.fencingToken == holder.fencingToken + 2)
                #expect(try await other.release(lease) == .released)
                await other.close()
            }
        }
    }
}
