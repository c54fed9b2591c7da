import Locky
import Testing

@testable import Locky

/// A hand-off that a later attempt overtook must not give the waiter a lease.
@Suite("Stale hand-off")
struct StaleHandOverTests {
    /// The holder releases while the waiter's second attempt is on its way: the release hands
    /// the lock to the waiter, naming its first attempt. Before the second attempt runs,
    /// another locker forces the lock away; the second attempt finds it held and answers
    /// queued. The hand-off message (attempt 1) then reaches the waiter: accepting it returned
    /// a lease for a lock the intruder held. The waiter must wait on and time out instead.
    @Test(arguments: [BackendKind.memory, .redis])
    func aHandOffOvertakenByAForcedLockGivesNoLease(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let holderLease = Shared<Lease?>(nil)
            let client = env.client
            env.backend.beforeFairAttempt { attempt in
                guard attempt == 2, let lease = holderLease.value else { return }
                do {
                    #expect(try await client.release(lease) == .released)
                    // Handed over to the waiter (its first attempt named), inside the release.
                    let handed = try await client.holder(of: "R")
                    #expect(handed != nil && handed?.owner != lease.owner, "not handed over: \(String(describing: handed))")
                    let forced = try await client.lock("R", locker: "intruder", force: true)
                    if case .acquired = forced {} else { Issue.record("the forced lock answered \(forced)") }
                } catch {
                    Issue.record("the hook failed: \(error)")
                }
            }
            let waiterClient = try LockClient(backend: env.backend, clock: env.clock)
            holderLease.update { [lease = try await client.tryAcquire("R", ttl: .seconds(30))] in $0 = lease }
            do {
                let lease = try await waiterClient.acquire("R", ttl: .seconds(10), timeout: .milliseconds(2500), fair: true)
                Issue.record("the waiter got a lease (token \(lease.fencingToken)) while the intruder holds the lock")
            } catch let error as LockError {
                #expect(error.code == .timedOut, "\(error)")
                #expect(error.holder?.owner == "intruder", "\(error)")
            }
            #expect(try await client.locker(of: "R") == "intruder")
        }
    }
}
