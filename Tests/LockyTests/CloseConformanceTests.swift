import Locky
import LockyRedis
import LockyTestSupport
import Testing

/// What `LockClient.close()` does, the same on every backend: calls fail at once with the
/// closed client's error and change nothing, waiting acquires and event streams in progress
/// end promptly, renewed leases are lost, and closing again changes nothing.
@Suite("Close conformance", .timeLimit(.minutes(1)))
struct CloseConformanceTests {
    /// The code every call fails with after close: a closed client on one Redis node (and the
    /// memory backend, which answers as one); on Redlock every node fails so, so no quorum.
    private static func closedCode(_ kind: BackendKind) -> LockError.Code {
        kind == .redlock ? .quorumNotReached : .backendUnavailable
    }

    /// Checks that `error` is the closed client's: its code, and `closed` underneath (on
    /// Redlock, on every node).
    private static func expectClosed(
        _ error: LockError?, _ kind: BackendKind, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let error else { return }
        if kind == .redlock {
            #expect(!error.nodes.isEmpty, "\(error)", sourceLocation: sourceLocation)
            for node in error.nodes {
                guard case .failed(let nodeError) = node.result else {
                    Issue.record("node \(node.node) did not fail: \(error)", sourceLocation: sourceLocation)
                    continue
                }
                #expect(nodeError.underlying?.code == .closed, "\(error)", sourceLocation: sourceLocation)
            }
        } else {
            #expect(error.underlying?.code == .closed, "\(error)", sourceLocation: sourceLocation)
            #expect(error.underlying?.mayHaveRun == false, "\(error)", sourceLocation: sourceLocation)
        }
    }

    /// The value of `task` within `limit`; past it the task is cancelled and the test fails
    /// (a task that outlives the close would otherwise keep the test waiting).
    private static func value<T: Sendable>(
        of task: Task<T, any Error>, within limit: Duration, _ what: String
    ) async throws -> T {
        try await within(limit, what) {
            try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        }
    }

    /// Runs `call` on a closed client: it fails at once (within a second, without retries or
    /// waits) with the closed client's error.
    private static func expectFailsClosed(
        _ kind: BackendKind, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ call: @escaping @Sendable () async throws -> Void
    ) async {
        let started = ContinuousClock.now
        let error = await expectLockError(closedCode(kind), sourceLocation: sourceLocation) {
            try await within(.seconds(5), what) { try await call() }
        }
        expectClosed(error, kind, sourceLocation: sourceLocation)
        let took = ContinuousClock.now - started
        #expect(took < .seconds(1), "\(what) took \(took) to fail", sourceLocation: sourceLocation)
    }

    /// Every call after close fails at once with the closed client's error (Redis and memory:
    /// `backendUnavailable` over a `closed` client error that never ran; Redlock:
    /// `quorumNotReached`, each node failing so), and leaves the stored locks as they were. A
    /// second close changes nothing, and a release that failed leaves the lease unreleased.
    @Test(arguments: BackendKind.allCases)
    func callsAfterCloseFailAtOnceAndChangeNothing(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = env.client
            let lease = try await client.tryAcquire("held", ttl: .seconds(30))
            guard case .acquired = try await client.lock("locked", locker: "user-1") else {
                Issue.record("the locker lock was not taken")
                return
            }
            let before = try await env.stateSnapshot()
            await client.close()
            await client.close()

            await Self.expectFailsClosed(kind, "tryAcquire") { _ = try await client.tryAcquire("new", ttl: .seconds(5)) }
            await Self.expectFailsClosed(kind, "acquire with retries") {
                _ = try await client.acquire("new", ttl: .seconds(5), retry: nil)
            }
            await Self.expectFailsClosed(kind, "waiting acquire") {
                _ = try await client.acquire("held", ttl: .seconds(5), timeout: .seconds(3))
            }
            await Self.expectFailsClosed(kind, "extend") { try await client.extend(lease, toExpireIn: .seconds(40)) }
            await Self.expectFailsClosed(kind, "extend by") { try await client.extend(lease, by: .seconds(10)) }
            await Self.expectFailsClosed(kind, "release") { _ = try await client.release(lease) }
            // Not released: a later release must try again rather than answer alreadyReleased.
            #expect(!lease.isReleased)
            await Self.expectFailsClosed(kind, "release again") { _ = try await client.release(lease) }
            // Bounded like every call here: a lock that hangs fails the test after 5 s.
            await Self.expectFailsClosed(kind, "lock") { _ = try await client.lock("other", locker: "user-2") }
            await Self.expectFailsClosed(kind, "refresh") { _ = try await client.refresh("locked", locker: "user-1") }
            await Self.expectFailsClosed(kind, "unlock") { _ = try await client.unlock("locked") }
            await Self.expectFailsClosed(kind, "locker(of:)") { _ = try await client.locker(of: "locked") }
            await Self.expectFailsClosed(kind, "heldLocks") { _ = try await client.heldLocks() }
            await Self.expectFailsClosed(kind, "withLock") {
                _ = try await client.withLock("scoped", ttl: .seconds(5)) { _ in 1 }
            }
            await client.close()
            // Nothing was written or removed (Redis and Redlock: every key and value alike).
            #expect(try await env.stateSnapshot() == before)
            if kind != .memory {
                #expect(try await env.storedOwner("held") == lease.owner)
                #expect(try await env.storedOwner("locked") == "user-1")
            }
        }
    }

    /// Waiting acquires in progress when the client is closed end at once with the closed
    /// client's error, whatever they waited for (a holder with 30 s left, a 20 s timeout):
    /// one resource (queued on Redis and in memory), several, and fair.
    @Test(arguments: BackendKind.allCases)
    func closeEndsWaitingAcquiresAtOnce(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            _ = try await client.tryAcquire(["one", "many"], ttl: .seconds(30))
            let calls = env.backend.calls
            let single = Task { try await client.acquire("one", ttl: .seconds(5), timeout: .seconds(20)) }
            let several = Task { try await client.acquire(["many", "free"], ttl: .seconds(5), timeout: .seconds(20)) }
            // Redlock has no fair mode (it fails at once; ClientLifecycleTests covers that).
            let fair =
                kind == .redlock
                ? nil : Task { try await client.acquire("one", ttl: .seconds(5), timeout: .seconds(20), fair: true) }
            defer {
                single.cancel()
                several.cancel()
                fair?.cancel()
            }
            // Each has made its first attempt and found the lock busy.
            let waiting = try await eventually { env.backend.calls >= calls + (fair == nil ? 2 : 3) }
            try #require(waiting)
            try await Task.sleep(for: .milliseconds(100))
            let closed = ContinuousClock.now
            await client.close()
            for (what, waiter) in [("one resource", single), ("several", several)] + (fair.map { [("fair", $0)] } ?? []) {
                let error = await expectLockError(Self.closedCode(kind)) {
                    _ = try await Self.value(of: waiter, within: .seconds(3), "the \(what) waiter after close")
                }
                Self.expectClosed(error, kind)
                let after = ContinuousClock.now - closed
                #expect(after < .seconds(1), "the \(what) waiter ended \(after) after close")
            }
        }
    }

    /// An acquire pausing between retries (an 8 s retry delay; the resource is held) when the
    /// client is closed ends at once with the closed client's error and leaves nothing behind.
    /// Before, its pause was a plain sleep that close did not end: it failed only after the rest
    /// of its delay (7.8 s after close here).
    @Test(arguments: BackendKind.allCases)
    func closeEndsAnAcquirePausingBetweenRetries(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let holder = try await client.tryAcquire("held", ttl: .seconds(30))
            let calls = env.backend.calls
            let retrying = Task {
                try await client.acquire(
                    "held", ttl: .seconds(5), retry: RetryPolicy(count: 5, delay: .seconds(8), jitter: .zero))
            }
            defer { retrying.cancel() }
            // Its first attempt found the lock busy; it is pausing now.
            let tried = try await eventually { env.backend.calls >= calls + 1 }
            try #require(tried)
            try await Task.sleep(for: .milliseconds(200))
            let before = try await env.stateSnapshot()
            let closed = ContinuousClock.now
            await client.close()
            let error = await expectLockError(Self.closedCode(kind)) {
                _ = try await Self.value(of: retrying, within: .seconds(15), "the retrying acquire after close")
            }
            Self.expectClosed(error, kind)
            let after = ContinuousClock.now - closed
            #expect(after < .seconds(1), "the retrying acquire ended \(after) after close")
            #expect(try await env.stateSnapshot() == before)
            if kind != .memory { #expect(try await env.storedOwner("held") == holder.owner) }
        }
    }

    /// A waiting acquire pausing the configuration's retry delay (8 s) before its next attempt,
    /// after one that failed for want of servers (Redis: the server went away after answering;
    /// Redlock: two of three nodes are down, no quorum), ends at once on close with the closed
    /// client's error. Before, the pause was a plain sleep: it ended 7.8 s after close.
    @Test(arguments: [BackendKind.redis, .redlock])
    func closeEndsAWaitingAcquirePausingAfterAFailedAttempt(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let capture = LogCapture()
            let client = try env.makeClient(
                LockyConfiguration(retry: RetryPolicy(count: -1, delay: .seconds(8), jitter: .zero)),
                logger: capture.logger())
            if kind == .redlock {
                env.nodes[1].kill()
                env.nodes[2].kill()
            } else {
                _ = try await env.client.tryAcquire("held", ttl: .seconds(30))
            }
            let calls = env.backend.calls
            let waiting = Task { try await client.acquire("held", ttl: .seconds(5), timeout: .seconds(40)) }
            defer { waiting.cancel() }
            if kind == .redis {
                // It found the lock held and queued; then the server goes away.
                let queued = try await eventually { env.backend.calls >= calls + 1 }
                try #require(queued)
                try await Task.sleep(for: .milliseconds(100))
                try env.requireServer().kill()
            }
            let pausing = try await eventually(within: .seconds(15)) {
                capture.entries.contains { $0.contains("waiting acquire failed, retrying") }
            }
            try #require(pausing, "the waiter never failed an attempt: \(capture.entries)")
            try await Task.sleep(for: .milliseconds(200))
            let closed = ContinuousClock.now
            await client.close()
            let error = await expectLockError(Self.closedCode(kind)) {
                _ = try await Self.value(of: waiting, within: .seconds(15), "the pausing waiter after close")
            }
            Self.expectClosed(error, kind)
            let after = ContinuousClock.now - closed
            #expect(after < .seconds(1), "the pausing waiter ended \(after) after close")
        }
    }

    /// An event stream in progress when the client is closed finishes (the loop over it ends,
    /// and `events` returns what its body returned); a stream asked for after close throws the
    /// closed client's error (Redis, memory) or, on Redlock, whose node subscriptions fail
    /// one by one, finishes at once without a lock event.
    @Test(arguments: BackendKind.allCases)
    func closeFinishesEventStreams(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let seen = Shared(0)
            let watching = Task {
                try await client.events { stream in
                    for await event in stream {
                        if case .locked = event { seen.update { $0 += 1 } }
                    }
                    return "finished"
                }
            }
            defer { watching.cancel() }
            // Subscribed once a lock taken now arrives as an event.
            var subscribed = false
            for probe in 0..<20 where !subscribed {
                _ = try await client.tryAcquire("probe-\(probe)", ttl: .seconds(30))
                subscribed = try await eventually(within: .milliseconds(500)) { seen.value > 0 }
            }
            try #require(subscribed)
            let closed = ContinuousClock.now
            await client.close()
            let result = try await Self.value(of: watching, within: .seconds(3), "the event stream after close")
            #expect(result == "finished")
            let after = ContinuousClock.now - closed
            #expect(after < .seconds(1), "the stream finished \(after) after close")

            let started = ContinuousClock.now
            do {
                let lockEvents = try await within(.seconds(3), "events after close") {
                    try await client.events { stream in
                        var count = 0
                        for await event in stream {
                            switch event {
                            case .locked, .unlocked, .expired: count += 1
                            case .gap, .error: break
                            }
                        }
                        return count
                    }
                }
                #expect(kind == .redlock, "events after close ran on \(kind)")
                #expect(lockEvents == 0)
            } catch let error as LockError {
                #expect(kind != .redlock, "\(error)")
                #expect(error.code == .backendUnavailable, "\(error)")
                Self.expectClosed(error, kind)
            }
            #expect(ContinuousClock.now - started < .seconds(1))
        }
    }

    /// A lease renewed by `withLock` is not renewed after close: its body is cancelled and
    /// `withLock` throws `lockLost` once the lease's validity has passed, as after any renewal
    /// that fails.
    @Test(arguments: BackendKind.allCases)
    func closeEndsRenewalAndTheLeaseIsLost(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let started = Shared<Lease?>(nil)
            let holding = Task {
                try await client.withLock("renewed", ttl: .milliseconds(600)) { lease in
                    started.update { $0 = lease }
                    try await Task.sleep(for: .seconds(30))
                }
            }
            defer { holding.cancel() }
            let held = try await eventually { started.value != nil }
            try #require(held)
            // At least one renewal came through (at about a third of the TTL).
            try await Task.sleep(for: .milliseconds(400))
            let lease = try #require(started.value)
            #expect(lease.isValid)
            await client.close()
            await expectLockError(.lockLost) {
                try await Self.value(of: holding, within: .seconds(3), "withLock after close")
            }
            #expect(!lease.isValid)
        }
    }
}
