import CoreMetrics
import LockyRedis
import Logging
import Metrics
import Synchronization
import Tracing

/// Distributed locks: the one entry point of Locky.
///
/// Two APIs share one backend:
/// - the **lease API** (`acquire`, `extend`, `release`): a lease with a secret owner token,
///   fencing tokens and a validity deadline;
/// - the **locker API** (`lock`, `refresh`, `unlock`, `locker(of:)`): resources held by a named
///   locker, such as "article 12 is being edited by user 20".
///
/// Every call takes one resource or many and costs one round trip. Arguments are validated
/// before anything is sent.
public final class LockClient: Sendable {
    /// Where the locks live.
    public let backend: any LockBackend
    /// The configuration's defaults (TTLs, retries, drift, label).
    public let configuration: LockyConfiguration
    let clock: any LockClock
    let logger: Logger
    let metrics: LockMetrics
    let tracer: (any Tracer)?
    let waitQueues = LocalWaitQueues()
    let waiterIDs = Atomic<UInt64>(0)
    /// Names this client's fair waiters (`<token>.<n>`) and its wake channel.
    let clientToken = String(LeaseOwner.make(label: nil).prefix(16))
    /// The client's one renewal loop; runs inside ``run()``.
    let renewals: RenewalScheduler
    /// Set by ``close()``: from then on a failed attempt of a waiting or retrying acquire is
    /// final (a closed client does not come back the way a restarted server does).
    let isClosed = Atomic<Bool>(false)
    /// Set by ``close()`` once the backend is closed, before it fires ``openWaits``: a wait
    /// registered too late to be fired finds it set, and a fired one finds the backend closed.
    let backendClosed = Atomic<Bool>(false)
    /// The wake-up signal of each waiting acquire and each pause between retries in progress,
    /// by id: ``close()`` fires them, so each tries again at once (and fails) instead of
    /// sleeping until its next wake-up or the end of its retry delay.
    let openWaits = Mutex<[UInt64: WakeSignal]>([:])
    /// The buffer of each ``events(matching:_:)`` stream in progress: ``close()`` finishes them.
    let openStreams = Mutex<[UInt64: LockEventBuffer]>([:])
    /// Numbers the streams in ``openStreams``.
    let streamIDs = Atomic<UInt64>(0)

    /// Creates a client with the backend the configuration names.
    ///
    /// - Parameters:
    ///   - configuration: Backend and defaults; see ``LockyConfiguration/fromEnvironment(_:)``.
    ///   - logger: Receives `debug`/`trace` only; owners and tokens are never logged.
    ///   - metricsFactory: Where counters and timers go; the global `MetricsSystem` by default.
    ///   - tracer: Spans around acquire, extend, release, `withLock` and the locker API's calls; the global tracer by default, nil for none.
    ///   - clock: The monotonic clock for TTLs and validity (inject ``ManualLockClock`` in tests).
    public convenience init(
        configuration: LockyConfiguration = LockyConfiguration(),
        logger: Logger = Logger(label: "locky", factory: { _ in SwiftLogNoOpLogHandler() }),
        metricsFactory: (any MetricsFactory)? = nil,
        tracer: (any Tracer)? = InstrumentationSystem.tracer,
        clock: any LockClock = SystemLockClock()
    ) throws(LockError) {
        try configuration.validate()
        let backend: any LockBackend
        switch configuration.backend {
        case .memory:
            backend = InMemoryLockBackend(clock: clock, keyspace: try LockKeyspace(prefix: configuration.prefix))
        case .redis(let redis):
            backend = try RedisLockBackend(
                configuration: redis,
                keyspace: LockKeyspace(prefix: configuration.prefix),
                logger: logger
            )
        case .redlock(let redlock):
            var redlockBackend = try RedlockBackend(
                configuration: redlock,
                keyspace: LockKeyspace(prefix: configuration.prefix),
                logger: logger
            )
            // A waiter that misses a node's wake-ups retries at the retry cadence.
            redlockBackend.degradedWakeInterval = max(configuration.retry.delay, .milliseconds(10))
            backend = redlockBackend
        }
        try self.init(
            backend: backend,
            configuration: configuration,
            logger: logger,
            metricsFactory: metricsFactory,
            tracer: tracer,
            clock: clock
        )
    }

    /// Creates a client over a backend you built, e.g. ``RedisLockBackend`` with your own
    /// `RedisClient` (another database, TLS, auth: the seed's client factory).
    ///
    /// `clock` is the client's clock for validity, waits and renewal; locks expire on the
    /// backend's own clock. For an ``InMemoryLockBackend`` driven by a ``ManualLockClock``,
    /// give both the same clock.
    public init(
        backend: any LockBackend,
        configuration: LockyConfiguration = LockyConfiguration(),
        logger: Logger = Logger(label: "locky", factory: { _ in SwiftLogNoOpLogHandler() }),
        metricsFactory: (any MetricsFactory)? = nil,
        tracer: (any Tracer)? = InstrumentationSystem.tracer,
        clock: any LockClock = SystemLockClock()
    ) throws(LockError) {
        try configuration.validate()
        self.backend = backend
        self.configuration = configuration
        self.clock = clock
        var logger = logger
        logger[metadataKey: "locky.backend"] = "\(backend.name)"
        self.logger = logger
        self.metrics = LockMetrics(factory: metricsFactory ?? MetricsSystem.factory, backend: backend.name)
        self.tracer = tracer
        let driftFactor = configuration.driftFactor
        self.renewals = RenewalScheduler(backend: backend, clock: clock, logger: logger) { ttl in
            Self.drift(ttl, factor: driftFactor)
        }
    }

    /// Runs `body` with a running client (its renewal loop in a child task) and closes it
    /// afterwards, also when `body` throws.
    public static func withClient<T: Sendable>(
        configuration: LockyConfiguration = LockyConfiguration(),
        logger: Logger = Logger(label: "locky", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ body: @Sendable (LockClient) async throws -> T
    ) async throws -> T {
        let client = try LockClient(configuration: configuration, logger: logger)
        let result: Result<T, any Error>
        do {
            result = .success(
                try await withThrowingTaskGroup(of: T?.self) { group in
                    // Marked running before the child starts, so a withLock in `body` that comes
                    // first still hands its lease to the shared loop.
                    client.renewals.markRunning()
                    group.addTask {
                        try await client.run()
                        return nil
                    }
                    defer { group.cancelAll() }
                    return try await body(client)
                }
            )
        } catch {
            result = .failure(error)
        }
        await client.close()
        return try result.get()
    }

    /// Closes the backend and its connections. Idempotent and final.
    ///
    /// A Redis client you manage yourself (passed to ``RedisLockBackend/init(client:keyspace:)``
    /// or ``RedlockBackend/init(clients:keyspace:nodeTimeout:recreateMissingLocks:logger:)``)
    /// stays open for you, but the backend refuses as below and sends nothing more through it.
    ///
    /// The same on every backend:
    /// - Every call from then on fails, touching nothing: ``LockError`` `backendUnavailable`
    ///   whose ``LockError/underlying`` error has the code `closed` (on Redlock
    ///   `quorumNotReached`, each node failing so). That includes `acquire`, `tryAcquire`,
    ///   `extend`, `release` (the lease stays unreleased), `lock`, `refresh`, `unlock`,
    ///   `locker(of:)`, `heldLocks`, `withLock` and ``events(matching:_:)``. Locks held stay
    ///   held until their TTLs end (a lock without one stays until someone unlocks it).
    /// - A waiting acquire in progress, or an acquire pausing between retries, tries once more
    ///   at once and fails with that error; its attempts are not retried as after a lost
    ///   connection.
    /// - Each stream of ``events(matching:_:)`` in progress finishes.
    /// - Leases being renewed are not renewed any more: a `withLock` in progress ends with
    ///   `lockLost` when its lease's validity passes, as after any failed renewal.
    public func close() async {
        isClosed.store(true, ordering: .sequentiallyConsistent)
        await backend.close()
        backendClosed.store(true, ordering: .sequentiallyConsistent)
        let waits = openWaits.withLock { Array($0.values) }
        for signal in waits { signal.fire() }
        let streams = openStreams.withLock { Array($0.values) }
        for buffer in streams { buffer.finish() }
    }

    /// Whether a failed attempt of an acquire is final because the client or its backend was
    /// closed: never retried.
    func closedFor(_ error: LockError) -> Bool {
        isClosed.load(ordering: .sequentiallyConsistent) || error.underlying?.code == .closed
    }

    // MARK: Lease API

    /// Takes a resource, retrying while busy as `retry` (or the configuration, for nil) says.
    ///
    /// - Throws: ``LockError`` `busy` (with the holder) when retries ran out, `cancelled`,
    ///   `backendUnavailable`, `authenticationFailed`, `invalidArgument`; `alreadyExpired` when
    ///   the reply came too late to leave the lease any validity (it is given back); `serverError`
    ///   (e.g. a lock key holding another type of value); on Redlock `quorumNotReached`.
    public func acquire(
        _ resource: String,
        ttl: Duration? = nil,
        label: String? = nil,
        retry: RetryPolicy?
    ) async throws(LockError) -> Lease {
        try await acquire([resource], ttl: ttl, label: label, retry: retry)
    }

    /// Takes all resources or none, in one round trip per attempt, retrying while busy after
    /// the policy's delay (node-redlock's count/delay/jitter; nil uses the configuration's).
    /// Prefer ``acquire(_:ttl:label:timeout:fair:)-([String],_,_,_,_)``, which is woken by the release instead of polling.
    public func acquire(
        _ resources: [String],
        ttl: Duration? = nil,
        label: String? = nil,
        retry: RetryPolicy?
    ) async throws(LockError) -> Lease {
        try await acquire(resources, ttl: ttl, label: label, retry: retry, asWaitWithoutTime: false)
    }

    /// ``acquire(_:ttl:label:retry:)-([String],_,_,_)``; `asWaitWithoutTime` for a waiting
    /// acquire with a timeout of zero: one attempt, and a busy lock is `timedOut`, in the span
    /// as for the caller.
    func acquire(
        _ resources: [String],
        ttl: Duration?,
        label: String?,
        retry: RetryPolicy?,
        asWaitWithoutTime: Bool
    ) async throws(LockError) -> Lease {
        try LockLimits.validate(resources: resources)
        let ttl = ttl ?? configuration.leaseTTL
        try validate(leaseTTL: ttl)
        let label = label ?? configuration.label
        if let label { try LockLimits.validate(owner: label, role: "label") }
        let policy = retry ?? configuration.retry
        try LockLimits.validate(retry: policy)

        let span = tracer?.startSpan("locky.acquire", ofKind: .client)
        span?.attributes["locky.resources"] = resources.count
        if asWaitWithoutTime { span?.attributes["locky.wait"] = true }
        defer { span?.end() }
        let owner = LeaseOwner.make(label: label)
        let started = clock.now
        var generator = SystemRandomNumberGenerator()
        var attempt = 0
        // Busy is counted once per call, as a wait counts it, however often this one retries.
        var busyCounted = false
        while true {
            let attemptStart = clock.now
            let reply: AcquireReply
            do {
                reply = try await backend.checkedAcquire(resources, owner: owner, ttl: ttl)
            } catch  where error.code == .quorumNotReached && policy.allowsRetry(attempt + 1) && !closedFor(error) {
                // Redlock: too few nodes answered; the backend released what it got. Retry.
                attempt += 1
                do {
                    try await pause(until: clock.now + policy.nextDelay(using: &generator))
                } catch {
                    span?.recordError(error)
                    throw error
                }
                continue
            } catch {
                await forgetUnknownAcquire(resources, owner: owner, after: error)
                span?.recordError(error)
                throw error
            }
            switch reply {
            case .acquired(let tokens):
                do {
                    let lease = try await handOver(
                        resources, owner: owner, fencingTokens: tokens, ttl: ttl, attemptStart: attemptStart, started: started)
                    logger.trace(
                        "acquired", metadata: ["locky.resources": "\(resources.count)", "locky.attempts": "\(attempt + 1)"])
                    return lease
                } catch {
                    span?.recordError(error)
                    throw error
                }
            case .busy(let index, let holder):
                if !busyCounted { metrics.busy.increment() }
                busyCounted = true
                attempt += 1
                guard policy.allowsRetry(attempt) else {
                    let error = LockError(
                        asWaitWithoutTime ? .timedOut : .busy,
                        "held by \(holder.displayName)",
                        resource: resources[index],
                        holder: holder
                    )
                    span?.recordError(error)
                    throw error
                }
                do {
                    try await pause(until: clock.now + policy.nextDelay(using: &generator))
                } catch {
                    span?.recordError(error)
                    throw error
                }
            }
        }
    }

    /// Sleeps until `instant` between two attempts of an acquire, registered in ``openWaits``
    /// like a wait: ``close()`` ends it at once, so the next attempt fails with the closed
    /// backend's error then, not after the rest of the retry delay.
    ///
    /// - Throws: ``LockError`` `cancelled` when the task is cancelled.
    func pause(until instant: ContinuousClock.Instant) async throws(LockError) {
        let id = waiterIDs.add(1, ordering: .relaxed).newValue
        let signal = WakeSignal()
        openWaits.withLock { $0[id] = signal }
        defer { openWaits.withLock { _ = $0.removeValue(forKey: id) } }
        // Registered after close() fired the waits: closed already.
        if backendClosed.load(ordering: .sequentiallyConsistent) { return }
        if case .cancelled = await signal.wait(until: instant, clock: clock) {
            throw LockError(.cancelled, "cancelled while waiting to retry")
        }
    }

    /// Tries once: a lease, or ``LockError`` `busy` with the current holder and its remaining TTL.
    public func tryAcquire(_ resource: String, ttl: Duration? = nil, label: String? = nil) async throws(LockError) -> Lease {
        try await acquire([resource], ttl: ttl, label: label, retry: .never)
    }

    /// Tries once to take all resources or none.
    public func tryAcquire(_ resources: [String], ttl: Duration? = nil, label: String? = nil) async throws(LockError) -> Lease {
        try await acquire(resources, ttl: ttl, label: label, retry: .never)
    }

    /// Extends the lease so it expires `ttl` from now (owner-checked, all resources or none).
    ///
    /// On a lease being renewed (``startRenewing(_:maximumHoldTime:maximumRenewals:)``,
    /// `withLock`), this moves the deadline, not the TTL: renewal goes on with ``Lease/ttl``,
    /// and its next renewal sets that again. A `ttl` shorter than what was left brings that
    /// renewal forward (it comes when two thirds of ``Lease/ttl`` are left, at once when less
    /// is), so the lease is not lost at the shorter deadline. To keep a shorter TTL, stop
    /// renewing the lease first.
    ///
    /// - Throws: ``LockError`` `alreadyExpired` (free again, the lease was released or ended by
    ///   its `maximumHoldTime` or `maximumRenewals` or a stopped renewal loop, without anything
    ///   sent, or on Redlock its validity has passed) or `notOwner` (taken by another); when the lock was found
    ///   free or taken, the lease is lost too (``Lease/lossReason`` `notOwner`, on its
    ///   ``Lease/states()``, and a `withLock` holding it cancels its body); `timedOut` when the
    ///   extend was confirmed only after the lease's validity had passed (the keys were
    ///   extended, but the lease is not valid: treat the lock as lost); `backendUnavailable`.
    public func extend(_ lease: Lease, toExpireIn ttl: Duration) async throws(LockError) {
        try validate(leaseTTL: ttl)
        try checkStillValidBeforeRecreating(lease)
        let start = clock.now
        let validUntil = start + ttl - drift(ttl)
        // Unanswered, it may still have run: the keys may now expire sooner than the lease said.
        try await extend(lease, ttl: ttl, mode: .resetTo, confirmed: { _, _ in validUntil }, unknown: { min($0, validUntil) })
    }

    /// Extends the lease by `amount` beyond its current expiry (owner-checked, all or none).
    ///
    /// On a lease being renewed, it lasts until the next renewal, which sets ``Lease/ttl``
    /// again, as ``extend(_:toExpireIn:)`` explains.
    ///
    /// - Throws: ``LockError`` as ``extend(_:toExpireIn:)``.
    public func extend(_ lease: Lease, by amount: Duration) async throws(LockError) {
        try LockLimits.validate(ttl: amount, role: "extension")
        try checkStillValidBeforeRecreating(lease)
        let start = clock.now
        // The clocks may drift over the added time as over any other.
        let added = amount - .nanoseconds(Int64(amount.secondsDouble * configuration.driftFactor * 1e9))
        // Never past what the confirming nodes hold (Redlock: that quorum can lag the one the
        // validity counted on), less the drift over that time.
        let factor = configuration.driftFactor
        let bound = { (instant: ContinuousClock.Instant, lasts: Duration?) in
            lasts.map { min(instant, start + $0 - Self.drift($0, factor: factor)) } ?? instant
        }
        if backend.recreatesMissingLocks {
            // A key re-created on a node that lost it lives `amount` from now, not from the old
            // expiry: a quorum may count such a node, so the lease claims no more than that.
            let recreated = start + added
            try await extend(
                lease, ttl: amount, mode: .addTo, confirmed: { bound(min($0 + added, recreated), $1) },
                unknown: { min($0, recreated) })
        } else {
            // Adding never shortens a key, whether or not it ran.
            try await extend(lease, ttl: amount, mode: .addTo, confirmed: { bound($0 + added, $1) }, unknown: nil)
        }
    }

    /// A Redlock extend that re-creates lost keys is only safe within the lease's validity:
    /// after it, another owner may have held the lock meanwhile.
    private func checkStillValidBeforeRecreating(_ lease: Lease) throws(LockError) {
        if backend.recreatesMissingLocks, !lease.isReleased, lease.validUntil <= clock.now {
            throw LockError(
                .alreadyExpired,
                "the lease's validity has passed; re-creating its keys could span another owner's hold: acquire it again")
        }
    }

    /// Sends the extend; the lease's validity becomes `confirmed` of the current one (and of
    /// how long an add-to extend is sure to hold, when the backend says) when the backend
    /// confirms it, and `unknown` of it when the extend may have run unconfirmed (see
    /// ``Lease/endValidityUpdate(_:)``).
    private func extend(
        _ lease: Lease, ttl: Duration, mode: ExtendMode,
        confirmed: @escaping (ContinuousClock.Instant, Duration?) -> ContinuousClock.Instant,
        unknown: ((ContinuousClock.Instant) -> ContinuousClock.Instant)?
    ) async throws(LockError) {
        if lease.isReleased { throw LockError(.alreadyExpired, "the lease was released") }
        // Ended by the client (its key still there until its TTL): extended, the lock would be
        // held on with nothing to renew or release it.
        if let loss = lease.lossReason, [.maximumHoldTimeReached, .maximumRenewalsReached, .renewalStopped].contains(loss) {
            throw LockError(.alreadyExpired, "the lease has ended (\(RenewalScheduler.name(of: loss))); acquire it again")
        }
        let span = tracer?.startSpan("locky.extend", ofKind: .client)
        defer { span?.end() }
        let reply: ExtendReply
        var lasts: Duration?
        lease.beginValidityUpdate()
        do {
            if mode == .addTo {
                (reply, lasts) = try await backend.checkedExtend(lease.resources, owner: lease.owner, adding: ttl)
            } else {
                reply = try await backend.checkedExtend(lease.resources, owner: lease.owner, ttl: ttl, mode: mode)
            }
        } catch {
            lease.endValidityUpdate(unknown)
            span?.recordError(error)
            throw error
        }
        if case .extended = reply {
            let confirmedFor = lasts
            lease.endValidityUpdate { confirmed($0, confirmedFor) }
        } else {
            lease.endValidityUpdate(nil)
        }
        switch reply {
        case .extended:
            metrics.extended.increment()
            if !lease.isValid {
                let error = LockError(
                    .timedOut, "the extension was confirmed after its own validity had passed; use a longer TTL")
                span?.recordError(error)
                throw error
            }
        case .lost(let index, let holder):
            // As sure a sign as a renewal's "not owner": lost at once, for every observer (withLock
            // cancels its body), not only for this caller. Marked before the validity ends: that
            // wakes the renewal loop, whose "expired" must not come first.
            lease.markLost(.notOwner(holder: holder))
            lease.endValidity(at: clock.now)
            let error: LockError
            if let holder {
                error = LockError(
                    .notOwner, "the lease ended and \(holder.displayName) holds it now", resource: lease.resources[index],
                    holder: holder)
            } else {
                error = LockError(.alreadyExpired, "the lease had already expired", resource: lease.resources[index])
            }
            span?.recordError(error)
            throw error
        }
    }

    /// Releases the lease: owner-checked and idempotent. An expired lease answers
    /// ``ReleaseOutcome/alreadyExpired`` at once. Works from a cancelled task too.
    public func release(_ lease: Lease) async throws(LockError) -> ReleaseOutcome {
        guard lease.markReleased() else { return .alreadyReleased }
        let span = tracer?.startSpan("locky.release", ofKind: .client)
        defer { span?.end() }
        let outcomes: [UnlockOutcome]
        do {
            outcomes = try await backend.checkedUnlock(lease.resources, owner: lease.owner)
        } catch {
            // Nothing is known to be released: a later release must try again.
            lease.unmarkReleased()
            span?.recordError(error)
            throw error
        }
        lease.endStates(released: true)
        if outcomes.allSatisfy({ $0 == .unlocked }) {
            metrics.released.increment()
            span?.attributes["locky.outcome"] = "released"
            return .released
        }
        metrics.expiredOnRelease.increment()
        span?.attributes["locky.outcome"] = "alreadyExpired"
        return .alreadyExpired
    }

    // MARK: Helpers

    /// Turns a successful acquisition into a lease, valid when handed over: one whose validity
    /// already passed (a slow reply) is released and reported, never returned (node-redlock #296).
    func handOver(
        _ resources: [String],
        owner: String,
        fencingTokens: [Int64],
        ttl: Duration,
        attemptStart: ContinuousClock.Instant,
        started: ContinuousClock.Instant,
        validFor: Duration? = nil
    ) async throws(LockError) -> Lease {
        // `validFor`: what was left of the TTL when read (a lock handed over earlier).
        let validUntil = attemptStart + min(validFor ?? ttl, ttl) - drift(ttl)
        let now = clock.now
        if now >= validUntil {
            _ = try? await backend.unlock(resources, owner: owner)
            throw LockError(
                .alreadyExpired,
                "the lease expired before it could be handed over (the reply came \(now - attemptStart) after the attempt "
                    + "began, TTL \(ttl)); use a longer TTL")
        }
        metrics.acquired.increment()
        metrics.acquireLatency.recordNanoseconds(Int64((clock.now - started).secondsDouble * 1e9))
        return Lease(
            resources: resources, owner: owner, fencingTokens: fencingTokens, ttl: ttl, validUntil: validUntil, clock: clock)
    }

    /// Rejects a lease TTL below the least whole number of milliseconds above its drift
    /// allowance (3 ms by default): a shorter one leaves no validity, or less than a round trip
    /// takes, so such a lease could never be handed over valid; nothing is sent.
    func validate(leaseTTL ttl: Duration) throws(LockError) {
        try LockLimits.validate(ttl: ttl)
        try Self.validate(leaseTTL: ttl, driftFactor: configuration.driftFactor)
    }

    static func validate(leaseTTL ttl: Duration, driftFactor: Double, role: String = "TTL") throws(LockError) {
        let drift = drift(ttl, factor: driftFactor)
        // The smallest whole number of milliseconds above its own allowance.
        let minimum = Int((0.002 / (1 - driftFactor) * 1000).rounded(.down)) + 1
        guard ttl > drift, ttl >= .milliseconds(minimum) else {
            throw LockError(
                .invalidArgument,
                "the \(role) (\(ttl.readable)) leaves too little validity after the clock-drift allowance (\(drift.readable): ttl × driftFactor + 2 ms); use at least \(minimum) ms"
            )
        }
    }

    /// The Redlock drift allowance: `ttl × driftFactor + 2 ms`.
    func drift(_ ttl: Duration) -> Duration {
        Self.drift(ttl, factor: configuration.driftFactor)
    }

    static func drift(_ ttl: Duration, factor: Double) -> Duration {
        .nanoseconds(Int64(ttl.secondsDouble * factor * 1e9)) + .milliseconds(2)
    }

    /// An acquire whose reply never came may have taken the lock: remove whatever this owner
    /// holds, so a lost reply cannot leave an orphaned lock behind for a whole TTL. So may a
    /// script that failed half-way (an ACL that refuses a command inside it): Redis keeps the
    /// writes a script made before its error. `replyWait` bounds the wait for the unlock's
    /// answer (`.zero`: sent behind the acquire on its connection, not waited for); after a
    /// cancellation it is not waited for: the cancelled caller returns at once (a connection
    /// still being made to a stopped server would otherwise hold it up to the connect timeout).
    func forgetUnknownAcquire(_ resources: [String], owner: String, after error: LockError, replyWait: Duration? = nil) async {
        guard error.code == .cancelled || error.code == .serverError || error.underlying?.mayHaveRun == true else { return }
        // A key of another type is found before a script writes anything (and Redlock gives
        // back what other nodes took itself): nothing to forget, no round trip.
        guard !error.foreignKey else { return }
        let replyWait = replyWait ?? (error.code == .cancelled ? .zero : nil)
        _ = try? await backend.unlock(resources, owner: owner, replyWait: replyWait)
    }
}
