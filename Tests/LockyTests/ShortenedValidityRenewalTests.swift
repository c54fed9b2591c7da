import Locky
import LockyTestSupport
import Testing

/// An extend to less than a renewed lease had left moves its deadline before the renewal the
/// loop had planned from the old one. The loop must renew it by the new deadline, and with the
/// lease's own TTL (the extend moved the deadline, it did not change the TTL). Before, the loop
/// slept on to the old renewal time (a third of the TTL after the last renewal), the key expired
/// at the extend's deadline meanwhile, and the lease was lost for nothing.
@Suite("Renewal after an extend to less than was left")
struct ShortenedValidityRenewalTests {
    /// A lease of TTL 3 s renewed by the client's loop, extended to 600 ms: still held 2 s
    /// later, its key set back to (about) the lease's TTL by a renewal.
    @Test(arguments: BackendKind.allCases)
    func theClientsLoopRenewsByTheNewDeadline(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            try await onBackendExecutor(env) {
                try await env.withRunningClient { client in
                    let lease = try await client.acquire("r", ttl: .seconds(3), retry: .never)
                    try client.startRenewing(lease)
                    try await client.extend(lease, toExpireIn: .milliseconds(600))
                    try await Task.sleep(for: .seconds(2))
                    try await expectStillHeld(lease, in: env)
                    _ = try await client.release(lease)
                }
            }
        }
    }

    /// The same inside `withLock`, on the renewal loop of its own it runs when the client's
    /// loop does not.
    @Test(arguments: BackendKind.allCases)
    func withLocksOwnLoopRenewsByTheNewDeadline(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            try await onBackendExecutor(env) {
                try await env.client.withLock("r", ttl: .seconds(3)) { lease in
                    try await env.client.extend(lease, toExpireIn: .milliseconds(600))
                    try await Task.sleep(for: .seconds(2))
                    try await expectStillHeld(lease, in: env)
                }
            }
            #expect(try await env.storedOwner("r") == nil)
        }
    }

    /// The extend lands while a renewal is in flight: sent after the renewal began, answered
    /// before it (from the hook that runs before the renewal reaches the backend). Both
    /// overlapping, the lease keeps the shorter validity; the renewal's answer then planned the
    /// next one a third of the TTL away (1 s), past that validity (600 ms), and the lease was
    /// lost there.
    @Test(arguments: BackendKind.allCases)
    func anExtendOverlappingARenewalIsRenewedByItsDeadline(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            try await onBackendExecutor(env) {
                try await env.withRunningClient { client in
                    let lease = try await client.acquire("r", ttl: .seconds(3), retry: .never)
                    let extended = Shared(false)
                    env.backend.beforeRenew {
                        guard
                            !extended.update({ done in
                                defer { done = true }; return done
                            })
                        else { return }
                        do {
                            try await client.extend(lease, toExpireIn: .milliseconds(600))
                        } catch {
                            Issue.record("the extend failed: \(error)")
                        }
                    }
                    try client.startRenewing(lease)
                    let overlapped = try await eventually(within: .seconds(3)) { extended.value }
                    try #require(overlapped, "no renewal came")
                    try await Task.sleep(for: .seconds(2))
                    env.backend.beforeRenew(nil)
                    try await expectStillHeld(lease, in: env)
                    _ = try await client.release(lease)
                }
            }
        }
    }

    /// `lease` is neither lost nor past its validity, its key is still its own, and that key
    /// lives longer than the extend's 600 ms (a renewal set the lease's 3 s TTL again).
    private func expectStillHeld(
        _ lease: Lease, in env: LockEnvironment, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        #expect(lease.lossReason == nil, "lost: \(String(describing: lease.lossReason))", sourceLocation: sourceLocation)
        #expect(lease.isValid, sourceLocation: sourceLocation)
        #expect(try await env.storedOwner("r") == lease.owner, sourceLocation: sourceLocation)
        let expiry = try await env.expiry("r")
        #expect((expiry.ms ?? 0) > 1000, "the key expires in \(expiry)", sourceLocation: sourceLocation)
    }
}
