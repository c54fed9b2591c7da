import Locky
import LockyTestSupport
import Testing

/// Review of `withLock` when its caller is cancelled: the body may take a while to wind down
/// (or ignore cancellation), and the lock must stay renewed, and released, until it returns.
@Suite("Renewal review: withLock and cancellation")
struct RenewalReviewScopedTests {
    /// A client whose loop does not run: `withLock` renews its lease in a loop of its own. The
    /// caller is cancelled while the body (TTL 300 ms) still has a second of work that it does
    /// not give up. Before, the caller's cancellation stopped that loop at once: the lock
    /// expired under the running body after 300 ms, with no loss on the lease's states (lost
    /// silently). With the client's loop running it was renewed on; now it is in both cases.
    @Test(arguments: [BackendKind.memory, .redis], [false, true])
    func aCancelledCallersBodyKeepsItsLockRenewed(kind: BackendKind, clientLoop: Bool) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let started = Gate()
            let seen = Shared<(owner: String?, lease: String, valid: Bool, loss: LeaseLoss?)?>(nil)
            let work = { @Sendable (client: LockClient) async throws in
                let task = Task {
                    try await client.withLock("r", ttl: .milliseconds(300)) { lease in
                        started.open()
                        // Work that does not stop when cancelled (run outside this task).
                        await Task { try? await Task.sleep(for: .seconds(1)) }.value
                        let owner = try? await env.storedOwner("r")
                        seen.update { $0 = (owner, lease.owner, lease.isValid, lease.lossReason) }
                    }
                }
                try await started.wait()
                task.cancel()
                _ = await task.result
            }
            if clientLoop {
                try await onBackendExecutor(env) { try await env.withRunningClient { try await work($0) } }
            } else {
                try await onBackendExecutor(env) { try await work(env.client) }
            }
            let result = try #require(seen.value)
            #expect(result.owner == result.lease, "the lock was held by \(String(describing: result.owner)) as the body ended")
            #expect(result.valid)
            #expect(result.loss == nil)
            #expect(try await env.storedOwner("r") == nil, "not released after the body")
        }
    }
}
