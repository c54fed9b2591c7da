import InMemoryTracing
import Locky
import LockyRedis
import LockyTestSupport
import Logging
import Metrics
import MetricsTestKit
import Synchronization
import Testing
import Tracing

/// Metrics, spans and logs: they move as documented and never leak secrets or resource names.
@Suite("Observability")
struct ObservabilityTests {
    @Test(arguments: BackendKind.allCases)
    func countersAndTimerMove(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let metrics = TestMetrics()
            let client = try env.makeClient(metricsFactory: metrics)
            func total(_ label: String) -> Int64 { metrics.counters(label: label).reduce(0) { $0 + $1.totalValue } }

            let lease = try await client.tryAcquire("secret-resource-name", ttl: .milliseconds(150))
            #expect(total("locky_acquired_total") == 1)
            let timer = try metrics.expectTimer("locky_acquire_duration_seconds", [("backend", kind.rawValue)])
            #expect(timer.values.count == 1)
            #expect(timer.values.allSatisfy { $0 >= 0 })

            await expectLockError(.busy) { _ = try await client.tryAcquire("secret-resource-name", ttl: .seconds(1)) }
            #expect(total("locky_busy_total") == 1)
            #expect(total("locky_acquired_total") == 1)
            #expect(timer.values.count == 1)

            try await client.extend(lease, by: .milliseconds(1))
            #expect(total("locky_extended_total") == 1)

            try await env.pass(.milliseconds(400))
            #expect(try await client.release(lease) == .alreadyExpired)
            #expect(total("locky_expired_on_release_total") == 1)
            #expect(total("locky_released_total") == 0)

            let second = try await client.tryAcquire(["secret-resource-name", "other-secret"], ttl: .seconds(5))
            #expect(try await client.release(second) == .released)
            #expect(try await client.release(second) == .alreadyReleased)
            #expect(total("locky_released_total") == 1)
            #expect(total("locky_acquired_total") == 2)

            // The locker API counts too.
            _ = try await client.lock(["l1", "secret-resource-name"], locker: "u")
            _ = try await client.lock("l1", locker: "intruder")
            _ = try await client.unlock("l1")
            #expect(total("locky_acquired_total") == 4)
            #expect(total("locky_busy_total") == 2)
            #expect(total("locky_released_total") == 2)
            // Locking again what the locker holds resets its TTL: no acquisition.
            _ = try await client.lock("secret-resource-name", locker: "u")
            #expect(total("locky_acquired_total") == 4)

            // A wait counts one busy, however often it refreshes its place in the queue (every
            // 667 ms on Redis) before the holder lets go.
            let holder = try await client.tryAcquire("waited-for", ttl: .seconds(30))
            async let waited = client.acquire("waited-for", ttl: .seconds(5), timeout: .seconds(10))
            // Queued first (real time, whatever the clock), then long enough for two refreshes.
            try await Task.sleep(for: .milliseconds(200))
            try await env.pass(.milliseconds(1_600))
            _ = try await client.release(holder)
            _ = try await client.release(try await waited)
            #expect(total("locky_busy_total") == 3)

            // Dimensions are bounded: the backend, never a resource, owner or locker.
            var dimensions = metrics.counters.flatMap(\.dimensions)
            dimensions += metrics.timers.flatMap(\.dimensions)
            #expect(!dimensions.isEmpty)
            for (name, value) in dimensions {
                #expect(name == "backend", "unexpected dimension \(name)")
                #expect(value == kind.rawValue)
                #expect(!value.contains("secret"))
            }
            let labels = metrics.counters.map(\.label) + metrics.timers.map(\.label)
            #expect(labels.allSatisfy { !$0.contains("secret") && !$0.contains("l1") })
        }
    }

    /// `locky_busy_total` counts calls that found a resource busy, once per call, as a wait
    /// does: an acquire that retries while busy counts one, however many attempts it makes.
    @Test(arguments: BackendKind.allCases)
    func aRetryingAcquireCountsOneBusy(kind: BackendKind) async throws {
        // The system clock: the retry delays are real sleeps.
        try await withBackend(kind, clock: .system) { env throws in
            let metrics = TestMetrics()
            let client = try env.makeClient(metricsFactory: metrics)
            func total(_ label: String) -> Int64 { metrics.counters(label: label).reduce(0) { $0 + $1.totalValue } }
            let retry = RetryPolicy(count: 3, delay: .milliseconds(10), jitter: .zero)

            let holder = try await client.tryAcquire("held", ttl: .seconds(30))
            let callsBefore = env.backend.calls
            await expectLockError(.busy) { _ = try await client.acquire("held", ttl: .seconds(1), retry: retry) }
            #expect(env.backend.calls - callsBefore == 4, "the acquire did not try four times")
            #expect(total("locky_busy_total") == 1)
            #expect(total("locky_acquired_total") == 1)

            // Busy first, then acquired once the holder lets go: one of each.
            async let retried = client.acquire(
                "held", ttl: .seconds(5), retry: RetryPolicy(count: 100, delay: .milliseconds(20), jitter: .zero))
            try await Task.sleep(for: .milliseconds(100))
            _ = try await client.release(holder)
            _ = try await client.release(try await retried)
            #expect(total("locky_busy_total") == 2)
            #expect(total("locky_acquired_total") == 2)
            #expect(try metrics.expectTimer("locky_acquire_duration_seconds", [("backend", kind.rawValue)]).values.count == 2)
        }
    }

    /// A wait that is not queued in Redis (several resources; Redlock) wakes at the holder's
    /// expiry and tries again: still one busy for the whole wait, as a queued wait counts.
    @Test(arguments: BackendKind.allCases)
    func anUnqueuedWaitCountsOneBusy(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let metrics = TestMetrics()
            let client = try env.makeClient(metricsFactory: metrics)
            func total(_ label: String) -> Int64 { metrics.counters(label: label).reduce(0) { $0 + $1.totalValue } }

            // Margins for a loaded machine: the extend has 800 ms before the first expiry, the
            // release 1.6 s before the second.
            let holder = try await client.tryAcquire(["w1", "w2"], ttl: .seconds(1))
            async let waited = client.acquire(["w1", "w2"], ttl: .seconds(5), timeout: .seconds(8))
            try await Task.sleep(for: .milliseconds(200))
            // Lengthened: the waiter wakes at the old expiry, finds it held and waits again.
            try await client.extend(holder, by: .seconds(2))
            try await Task.sleep(for: .milliseconds(1_200))
            _ = try await client.release(holder)
            _ = try await client.release(try await waited)
            // It counted every attempt that found the lock held (2 here).
            #expect(total("locky_busy_total") == 1)
            #expect(total("locky_acquired_total") == 2)
        }
    }

    /// The acquire timer of a waiting acquire covers the whole call. It started after the
    /// wait's subscription, so a first wait (a new subscriber connection: connect, handshake,
    /// SUBSCRIBE) recorded only its attempt: here about 50 of some 250 ms.
    @Test func aWaitsLatencyIncludesItsSubscription() async throws {
        try await RedisServer.withServer { server throws in
            try await FaultProxy.withProxy(upstream: server.port) { proxy in
                let metrics = TestMetrics()
                let client = try LockClient(
                    configuration: LockyConfiguration(url: proxy.url), metricsFactory: metrics)
                // Connected, scripts loaded; the subscriber connection is not made yet.
                #expect(try await client.release(try await client.tryAcquire("warm-up", ttl: .seconds(5))) == .released)
                proxy.set(.latency(.milliseconds(50), direction: .serverToClient))
                let started = ContinuousClock.now
                let lease = try await client.acquire("free", ttl: .seconds(5), timeout: .seconds(10))
                let took = ContinuousClock.now - started
                proxy.set(.latency(.zero))
                _ = try await client.release(lease)
                let timer = try metrics.expectTimer("locky_acquire_duration_seconds", [("backend", "redis")])
                let recorded = Duration.nanoseconds(timer.values.last ?? 0)
                #expect(took > .milliseconds(150), "the wait took \(took)")
                #expect(recorded > took * 0.8, "recorded \(recorded) of a wait of \(took)")
                await client.close()
            }
        }
    }

    /// A wait with no time to wait makes one attempt. Its span recorded `busy` (the attempt's
    /// error, without `locky.wait`) while the caller got `timedOut`.
    @Test(arguments: BackendKind.allCases)
    func aZeroTimeoutWaitsSpanRecordsWhatTheCallerGets(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let tracer = InMemoryTracer()
            let client = try env.makeClient(tracer: tracer)
            _ = try await client.tryAcquire("held", ttl: .seconds(5))
            _ = tracer.popFinishedSpans()
            let error = await expectLockError(.timedOut) { _ = try await client.acquire("held", timeout: .zero) }
            #expect(error?.holder != nil)
            let spans = tracer.popFinishedSpans()
            #expect(spans.map(\.operationName) == ["locky.acquire"])
            let recorded = spans.first?.errors.first?.error as? LockError
            #expect(recorded?.code == .timedOut, "\(String(describing: recorded))")
            #expect(spans.first?.attributes["locky.wait"]?.toSpanAttribute() == true)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func spansAreRecorded(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let tracer = InMemoryTracer()
            let client = try env.makeClient(tracer: tracer)
            let lease = try await client.tryAcquire(["a", "b"], ttl: .seconds(5))
            try await client.extend(lease, toExpireIn: .seconds(5))
            #expect(try await client.release(lease) == .released)
            var spans = tracer.popFinishedSpans()
            #expect(spans.map(\.operationName) == ["locky.acquire", "locky.extend", "locky.release"])
            #expect(spans.allSatisfy { $0.errors.isEmpty })
            #expect(spans.allSatisfy { $0.kind == .client })
            #expect(spans.first?.attributes["locky.resources"]?.toSpanAttribute() == 2)

            _ = try await client.tryAcquire("held", ttl: .seconds(5))
            _ = tracer.popFinishedSpans()
            await expectLockError(.busy) { _ = try await client.tryAcquire("held", ttl: .seconds(5)) }
            spans = tracer.popFinishedSpans()
            #expect(spans.map(\.operationName) == ["locky.acquire"])
            let recorded = try #require(spans.first?.errors.first?.error as? LockError)
            #expect(recorded.code == .busy)

            let stolen = try await client.tryAcquire("mine", ttl: .seconds(5))
            _ = try await client.lock("mine", locker: "thief", force: true)
            _ = tracer.popFinishedSpans()
            await expectLockError(.notOwner) { try await client.extend(stolen, by: .seconds(1)) }
            spans = tracer.popFinishedSpans()
            #expect(spans.map(\.operationName) == ["locky.extend"])
            #expect((spans.first?.errors.first?.error as? LockError)?.code == .notOwner)
            #expect(tracer.activeSpans.isEmpty)

            // A waiting acquire cancelled while it waits records the cancellation in its span.
            _ = try await client.tryAcquire("busy-wait", ttl: .seconds(30))
            _ = tracer.popFinishedSpans()
            let waiting = Task { try await client.acquire("busy-wait", ttl: .seconds(5), timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(200))
            waiting.cancel()
            _ = await waiting.result
            spans = tracer.popFinishedSpans()
            #expect((spans.last?.errors.first?.error as? LockError)?.code == .cancelled, "\(spans.map(\.errors))")
        }
    }

    /// `withLock` had no span of its own: how long a lock was waited for and held was nowhere.
    /// Its span covers the call; the acquire, the release and the body's own spans are children
    /// of it; a lost lock (or the body's error) is recorded in it.
    @Test(arguments: BackendKind.allCases)
    func withLockHasASpanAroundItsAcquireBodyAndRelease(kind: BackendKind) async throws {
        // System time: the loss is found by the renewal, a third of the TTL later.
        try await withBackend(kind, clock: .system) { env throws in
            let tracer = InMemoryTracer()
            let client = try env.makeClient(tracer: tracer)
            try await client.withLock(["a", "b"], ttl: .seconds(5)) { _ in
                tracer.startSpan("body").end()
            }
            let spans = tracer.popFinishedSpans()
            #expect(spans.map(\.operationName) == ["locky.acquire", "body", "locky.release", "locky.withLock"])
            let scope = try #require(spans.last)
            #expect(scope.kind == .internal)
            #expect(scope.attributes["locky.resources"]?.toSpanAttribute() == 2)
            #expect(scope.errors.isEmpty)
            for child in spans.dropLast() {
                #expect(child.parentSpanID == scope.spanID, "\(child.operationName)")
                #expect(child.traceID == scope.traceID, "\(child.operationName)")
            }
            #expect(
                spans.first { $0.operationName == "locky.release" }?.attributes["locky.outcome"]?.toSpanAttribute() == "released")

            struct BodyFailed: Error {}
            await #expect(throws: BodyFailed.self) {
                try await client.withLock("c", ttl: .seconds(5)) { _ in throw BodyFailed() }
            }
            let failed = tracer.popFinishedSpans()
            #expect(failed.map(\.operationName) == ["locky.acquire", "locky.release", "locky.withLock"])
            #expect(failed.last?.errors.first?.error is BodyFailed)

            // Lost: another owner takes the lock over while the body runs.
            await expectLockError(.lockLost) {
                try await client.withLock("d", ttl: .seconds(1)) { _ in
                    _ = try await client.lock("d", locker: "thief", force: true)
                    try await Task.sleep(for: .seconds(30))
                }
            }
            let lost = tracer.popFinishedSpans().filter { $0.operationName == "locky.withLock" }
            #expect((lost.first?.errors.first?.error as? LockError)?.code == .lockLost, "\(lost.map(\.errors))")
            #expect(tracer.activeSpans.isEmpty)
        }
    }

    /// A release span said nothing of what the release found: released, or already expired.
    @Test(arguments: BackendKind.allCases)
    func aReleaseSpanRecordsItsOutcome(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let tracer = InMemoryTracer()
            let client = try env.makeClient(tracer: tracer)
            let lease = try await client.tryAcquire("r", ttl: .seconds(5))
            _ = try await client.unlock("r")
            _ = tracer.popFinishedSpans()
            #expect(try await client.release(lease) == .alreadyExpired)
            let spans = tracer.popFinishedSpans()
            #expect(spans.map(\.operationName) == ["locky.release"])
            #expect(spans.first?.attributes["locky.outcome"]?.toSpanAttribute() == "alreadyExpired")
            #expect(spans.first?.errors.isEmpty == true)
        }
    }

    /// A waiting acquire that cannot reach Redis records why in its span.
    @Test func aWaitThatCannotReachRedisRecordsTheError() async throws {
        let tracer = InMemoryTracer()
        let port = try FreePort.next()
        let client = try LockClient(
            configuration: try LockyConfiguration(url: "redis://127.0.0.1:\(port)?connect_timeout=1s"), tracer: tracer)
        await expectLockError(.backendUnavailable) { _ = try await client.acquire("r", timeout: .seconds(1)) }
        let spans = tracer.popFinishedSpans()
        #expect(spans.map(\.operationName) == ["locky.acquire"])
        #expect((spans.first?.errors.first?.error as? LockError)?.code == .backendUnavailable, "\(spans.map(\.errors))")
        await client.close()
    }

    /// With the server gone, each operation still has its one span, ended, with the error
    /// recorded; and a failed call counts nothing (not busy, not acquired, not released).
    @Test func backendErrorsEndSpansAndCountNothing() async throws {
        try await RedisServer.withServer { server throws in
            let tracer = InMemoryTracer()
            let metrics = TestMetrics()
            func total(_ label: String) -> Int64 { metrics.counters(label: label).reduce(0) { $0 + $1.totalValue } }
            let client = try LockClient(
                configuration: try LockyConfiguration(url: "\(server.url)?connect_timeout=500ms&command_timeout=500ms"),
                metricsFactory: metrics, tracer: tracer)
            let lease = try await client.tryAcquire("r", ttl: .seconds(30))
            _ = tracer.popFinishedSpans()
            server.kill()

            await expectLockError(.backendUnavailable) { _ = try await client.tryAcquire("other", ttl: .seconds(5)) }
            await expectLockError(.backendUnavailable) { try await client.extend(lease, by: .seconds(1)) }
            await expectLockError(.backendUnavailable) { _ = try await client.release(lease) }
            await expectLockError(.backendUnavailable) { _ = try await client.lock("l", locker: "u") }
            let spans = tracer.popFinishedSpans()
            #expect(spans.map(\.operationName) == ["locky.acquire", "locky.extend", "locky.release", "locky.lock"])
            for span in spans {
                #expect((span.errors.first?.error as? LockError)?.code == .backendUnavailable, "\(span.operationName)")
            }
            #expect(tracer.activeSpans.isEmpty)
            #expect(total("locky_acquired_total") == 1)
            for label in ["locky_busy_total", "locky_released_total", "locky_extended_total", "locky_expired_on_release_total"] {
                #expect(total(label) == 0, "\(label)")
            }
            await client.close()
        }
    }

    @Test func logsNeverContainOwnerTokensOrPasswords() async throws {
        let password = "pw-\(UInt64.random(in: 1_000_000...9_999_999))-secret"
        try await RedisServer.withServer(.init(password: password)) { server throws in
            let capture = LogCapture()
            let logger = capture.logger()
            var redis = try RedisConfiguration(url: "redis://:\(password)@127.0.0.1:\(server.port)")
            redis.clientName = "log-test"
            let configuration = LockyConfiguration(backend: .redis(redis), lockerTTL: .seconds(30), label: "logger-test")
            let client = try LockClient(configuration: configuration, logger: logger)

            var owners: [String] = []
            let lease = try await client.acquire(["r1", "r2"], ttl: .seconds(5))
            owners.append(lease.owner)
            try await client.extend(lease, toExpireIn: .seconds(5))
            try await client.extend(lease, by: .seconds(1))
            await expectLockError(.busy) { _ = try await client.tryAcquire("r1", ttl: .seconds(1)) }
            _ = try await client.lock(["r1", "l"], locker: "user-20")
            _ = try await client.refresh("l")
            _ = try await client.holders(of: ["r1", "l"])
            _ = try await client.unlock("l")
            #expect(try await client.release(lease) == .released)
            let short = try await client.acquire("short", ttl: .milliseconds(50))
            owners.append(short.owner)
            try await Task.sleep(for: .milliseconds(120))
            #expect(try await client.release(short) == .alreadyExpired)
            // A lost connection and a reconnect log too.
            _ = try await client.backend.fencedRead(key: "x")
            try server.cli("CLIENT", "KILL", "TYPE", "normal")
            let again = try await client.acquire("after-reconnect", ttl: .seconds(1))
            owners.append(again.owner)
            _ = try await client.release(again)
            await client.close()

            let entries = capture.entries
            #expect(!entries.isEmpty, "nothing was logged at trace level")
            for entry in entries {
                #expect(!entry.contains(password), "password logged: \(entry)")
                for owner in owners {
                    let token = String(owner.suffix(32))
                    #expect(!entry.contains(token), "owner token logged: \(entry)")
                }
            }
        }
    }

    @Test func errorsAndDescriptionsNeverContainOwnerTokens() async throws {
        try await withBackend(.memory) { env throws in
            let lease = try await env.client.acquire("r", ttl: .seconds(5), label: "visible")
            let token = String(lease.owner.suffix(32))
            let error = await expectLockError(.busy) { _ = try await env.client.tryAcquire("r", ttl: .seconds(1)) }
            let holder = try #require(error?.holder)
            for text in ["\(lease)", "\(holder)", error.map { "\($0)" } ?? "", error?.message ?? ""] {
                #expect(!text.contains(token), "\(text)")
            }
            #expect("\(holder)".contains("visible"))
            // An unlabelled lease shows up as "lease".
            let anonymous = try await env.client.acquire("anon", ttl: .seconds(5))
            let busy = await expectLockError(.busy) { _ = try await env.client.tryAcquire("anon", ttl: .seconds(1)) }
            #expect(busy?.holder?.displayName == "lease")
            #expect(busy.map { "\($0)" }?.contains(anonymous.owner) == false)
        }
    }
}

/// Keeps every log record, rendered with its metadata, in memory.
final class LogCapture: Sendable {
    private let storage = Mutex<[String]>([])

    var entries: [String] { storage.withLock { $0 } }

    func append(_ entry: String) { storage.withLock { $0.append(entry) } }

    func logger() -> Logger {
        var logger = Logger(label: "locky-test") { label in CapturingLogHandler(label: label, capture: self) }
        logger.logLevel = .trace
        return logger
    }
}

/// A `LogHandler` that hands each record to a ``LogCapture``.
struct CapturingLogHandler: LogHandler {
    let label: String
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append("\(event.level) \(label) \(event.message) \(rendered) [\(event.source)]")
    }
}
