import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Logging
import ServiceLifecycle
import Testing

/// The client's background work as an application runs it (the expiration worker, the client
/// as a ServiceLifecycle service), and what Redlock refuses or gives up.
@Suite("Client lifecycle")
struct ClientLifecycleTests {
    /// One renewal loop per client: a second `run()` while the first runs fails at once with
    /// `invalidArgument`, and the first goes on renewing. Before, the second loop's wait took
    /// the first's place on their shared wake signal: the first was never woken again (and
    /// this test hung: hence its time limit).
    @Test(.timeLimit(.minutes(1))) func aSecondRunWhileTheLoopRunsIsRefused() async throws {
        try await withBackend(.memory, clock: .system) { env throws in
            let client = env.client
            try await withThrowingTaskGroup(of: Void.self) { group in
                client.markRenewalLoopRunning()
                group.addTask { try await client.run() }
                defer { group.cancelAll() }
                // The first loop is waiting (nothing to renew yet) when the second starts.
                try await Task.sleep(for: .milliseconds(100))
                let second = await #expect(throws: LockError.self) {
                    try await withThrowingTaskGroup(of: Void.self) { inner in
                        inner.addTask { try await client.run() }
                        defer { inner.cancelAll() }
                        // A second loop that runs instead of failing ends the wait here.
                        inner.addTask {
                            try await Task.sleep(for: .seconds(2))
                            throw CancellationError()
                        }
                        try await inner.next()
                    }
                }
                #expect(second?.code == .invalidArgument)
                // The first loop still renews: a 300 ms lease lives on well past its TTL.
                let lease = try await client.acquire("r", ttl: .milliseconds(300), retry: .never)
                try client.startRenewing(lease)
                try await Task.sleep(for: .milliseconds(900))
                #expect(lease.isValid)
                #expect(lease.lossReason == nil)
                _ = try await client.release(lease)
            }
        }
    }

    /// `runExpirationWorker()` has a lock it saw taken expired at the lock's deadline, not
    /// before, and runs until its task is cancelled. Redis and Redlock: it looks at the lock
    /// then (one holders call, the access that makes Redis expire the key and notify every
    /// watcher; the only calls counted). Memory, which expires each lock on a timer of its own
    /// while someone watches expirations (here the worker alone): the wake-up the expiry sends
    /// comes then. Before, memory was left out, as the worker there rarely looks itself.
    @Test(arguments: BackendKind.allCases)
    func theExpirationWorkerLooksAtALockAtItsDeadline(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let expired = Shared<Set<String>>([])
            if kind == .memory {
                try await env.backend.withWakeHandler(waiter: nil) { hint in
                    if case .released(let resource, _) = hint { expired.update { _ = $0.insert(resource) } }
                } _: {
                    try await Self.expirationWorker(env) { _ in expired.value }
                }
            } else {
                let before = Shared(0)
                try await Self.expirationWorker(env) { resource in
                    // Called with nil to mark the calls so far as not about `resource`.
                    guard let resource else {
                        before.update { $0 = env.backend.calls }
                        return []
                    }
                    return env.backend.calls > before.value ? [resource] : []
                }
            }
        }
    }

    /// Runs the expiration worker of ``theExpirationWorkerLooksAtALockAtItsDeadline(kind:)``;
    /// `handled(resource)` answers the resources whose deadline it has acted on (nil: start
    /// counting afresh for the next resource).
    private static func expirationWorker(
        _ env: LockEnvironment, handled: @escaping @Sendable (String?) -> Set<String>
    ) async throws {
        let finished = Shared(false)
        let worker = Task(executorPreference: env.client.backend.preferredTaskExecutor) {
            defer { finished.update { $0 = true } }
            try await env.client.runExpirationWorker()
        }
        defer { worker.cancel() }
        // The worker is subscribed once a short lock taken now reaches it as an event (its
        // deadline is 50 ms later); the locks are taken on the inner backend, so its own calls
        // are the only ones counted.
        var subscribed = false
        for probe in 0..<50 where !subscribed {
            _ = handled(nil)
            _ = try await env.backend.inner.acquire(["probe-\(probe)"], owner: "probe", ttl: .milliseconds(50))
            subscribed = try await eventually(within: .milliseconds(300)) { handled("probe-\(probe)").contains("probe-\(probe)") }
        }
        try #require(subscribed, "the worker never acted on a lock it saw taken")
        // Every probe's deadline is over.
        try await Task.sleep(for: .milliseconds(300))
        _ = handled(nil)
        let taken = ContinuousClock.now
        let reply = try await env.backend.inner.acquire(["exp"], owner: "other", ttl: .milliseconds(600))
        guard case .acquired = reply else {
            Issue.record("the lock was not taken: \(reply)")
            return
        }
        try await Task.sleep(until: taken + .milliseconds(400))
        #expect(!handled("exp").contains("exp"), "the worker acted on the lock before its deadline")
        let looked = try await eventually(within: .seconds(2)) { handled("exp").contains("exp") }
        #expect(looked, "the worker never acted on the lock")
        #expect(ContinuousClock.now - taken >= .milliseconds(600), "acted at \(ContinuousClock.now - taken)")
        #expect(try await env.storedOwner("exp") == nil)
        // It runs until cancelled, and then ends promptly.
        #expect(!finished.value, "the worker ended on its own")
        worker.cancel()
        let ended = try await within(.seconds(2), "the cancelled worker") {
            _ = await worker.result
            return true
        }
        #expect(ended)
    }

    /// The client as a service of a `ServiceGroup`: a graceful shutdown ends its renewal loop,
    /// and a `withLock` whose lease that loop renewed is told (`renewalStopped`), its body
    /// cancelled and its lock released.
    @Test(arguments: BackendKind.allCases)
    func aGracefulShutdownEndsTheServiceAndItsLeases(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let group = ServiceGroup(
                services: [client], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            // Marked running before the group starts the service, so withLock uses its loop.
            client.markRenewalLoopRunning()
            let running = Task { try await group.run() }
            let started = Shared<Lease?>(nil)
            let holding = Task {
                try await client.withLock("service", ttl: .seconds(3)) { lease in
                    started.update { $0 = lease }
                    try await Task.sleep(for: .seconds(30))
                }
            }
            let held = try await eventually { started.value != nil }
            try #require(held)
            let lease = try #require(started.value)
            #expect(client.renewingCount == 1, "withLock should hand its lease to the service's loop")
            #expect(try await env.storedOwner("service") == lease.owner)
            await group.triggerGracefulShutdown()
            try await within(.seconds(5), "the service group after a graceful shutdown") { try await running.value }
            let error = await expectLockError(.lockLost) {
                try await within(.seconds(5), "withLock after the shutdown") { try await holding.value }
            }
            #expect(error?.message.contains("renewal loop stopped") == true, "\(String(describing: error))")
            #expect(lease.lossReason == .renewalStopped)
            #expect(try await env.storedOwner("service") == nil)
        }
    }

    /// Redlock has no fair queue: a fair acquire fails at once with `invalidArgument`, touching
    /// nothing, even while the lock is held (so it could not have waited).
    @Test func fairModeOnRedlockFailsAtOnce() async throws {
        try await withBackend(.redlock) { env throws in
            let holder = try await env.client.tryAcquire("fair", ttl: .seconds(30))
            let callsBefore = env.backend.calls
            let started = ContinuousClock.now
            let error = await expectLockError(.invalidArgument) {
                _ = try await env.client.acquire("fair", ttl: .seconds(30), timeout: .seconds(10), fair: true)
            }
            #expect(ContinuousClock.now - started < .seconds(1), "failed after \(ContinuousClock.now - started)")
            #expect(error?.message.contains("fair") == true, "\(String(describing: error))")
            // The fair attempt, and at most the leaving of a queue it never joined.
            #expect(env.backend.calls <= callsBefore + 2)
            #expect(try await env.storedOwner("fair") == holder.owner)
            #expect(try await env.client.release(holder) == .released)
        }
    }

    /// A waiting acquire on Redlock with two of three nodes killed keeps trying until its wait
    /// deadline, then fails with `quorumNotReached` naming every node. It gives up once its
    /// next retry (the configured 200 ± 100 ms later) would come after the deadline, so at most
    /// 300 ms before it.
    @Test func aRedlockWaiterWithoutAQuorumRetriesUntilItsDeadline() async throws {
        try await withBackend(.redlock) { env throws in
            env.nodes[1].kill()
            env.nodes[2].kill()
            let callsBefore = env.backend.calls
            let started = ContinuousClock.now
            let error = await expectLockError(.quorumNotReached) {
                _ = try await env.client.acquire("r", ttl: .seconds(10), timeout: .milliseconds(1500))
            }
            let waited = ContinuousClock.now - started
            #expect(waited >= .milliseconds(1500 - 300), "gave up after \(waited), a retry before its deadline")
            #expect(waited < .seconds(4), "gave up \(waited) after starting with a 1.5 s timeout")
            // An attempt every 100 to 300 ms for at least 1.2 s.
            #expect(env.backend.calls - callsBefore >= 4, "tried \(env.backend.calls - callsBefore) times")
            #expect(error?.nodes.count == 3, "\(String(describing: error))")
            // The one live node granted and was released again.
            let left = try env.nodes[0].cli("EXISTS", env.keyspace.lockKey("r"))
            #expect(left == "0")
        }
    }
}
