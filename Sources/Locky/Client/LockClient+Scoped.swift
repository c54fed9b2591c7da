import Tracing

extension LockClient {
    /// Holds `resource` while `body` runs: waits for it, renews it automatically, and always
    /// releases it afterwards, also when the calling task was cancelled.
    ///
    /// The body runs in a child task that is cancelled when the lease is lost; `withLock` then
    /// throws ``LockError`` `lockLost`; so does a body that returns after the lease's validity
    /// passed (its process was paused, say), so a value is returned only for a body that ran
    /// under the lock. The body's own errors are rethrown. `withLock` returns, and releases,
    /// only once the body has returned: a body that ignores cancellation (a cancelled caller's,
    /// or after a loss) holds it up, its lease renewed meanwhile unless it was lost.
    ///
    /// - Parameters:
    ///   - resource: The resource to hold.
    ///   - ttl: The lease TTL (renewed at about a third of it); the configuration's by default.
    ///   - timeout: How long to wait for the lock; nil waits without limit.
    ///   - label: A readable label for the owner (who holds it); the configuration's by default.
    ///   - maximumHoldTime: Ends the lease (`lockLost`, reason `maximumHoldTimeReached`) after this long.
    ///   - maximumRenewals: Ends the lease after this many renewals.
    ///   - fair: Wait in arrival order across processes (see ``acquire(_:ttl:label:timeout:fair:)-(String,_,_,_,_)``).
    ///   - body: The work to do under the lock; it gets the lease (for its fencing token).
    /// - Returns: What `body` returned.
    public func withLock<T: Sendable>(
        _ resource: String,
        ttl: Duration? = nil,
        timeout: Duration? = nil,
        label: String? = nil,
        maximumHoldTime: Duration? = nil,
        maximumRenewals: Int? = nil,
        fair: Bool = false,
        _ body: @escaping @Sendable (Lease) async throws -> T
    ) async throws -> T {
        try await withLock(
            [resource],
            ttl: ttl,
            timeout: timeout,
            label: label,
            maximumHoldTime: maximumHoldTime,
            maximumRenewals: maximumRenewals,
            fair: fair,
            body
        )
    }

    /// Holds all `resources` (all or nothing) while `body` runs; see ``withLock(_:ttl:timeout:label:maximumHoldTime:maximumRenewals:fair:_:)-(String,_,_,_,_,_,_,_)``.
    public func withLock<T: Sendable>(
        _ resources: [String],
        ttl: Duration? = nil,
        timeout: Duration? = nil,
        label: String? = nil,
        maximumHoldTime: Duration? = nil,
        maximumRenewals: Int? = nil,
        fair: Bool = false,
        _ body: @escaping @Sendable (Lease) async throws -> T
    ) async throws -> T {
        if let maximumHoldTime { try LockLimits.validate(ttl: maximumHoldTime, role: "maximum hold time") }
        if let maximumRenewals, maximumRenewals < 0 {
            throw LockError(.invalidArgument, "the maximum number of renewals is negative")
        }
        guard let tracer else {
            return try await holding(
                resources, ttl: ttl, timeout: timeout, label: label, maximumHoldTime: maximumHoldTime,
                maximumRenewals: maximumRenewals, fair: fair, body)
        }
        // One span for the whole call (wait, body, release): how long the lock was waited for
        // and held. The acquire and release spans, and the body's own, are its children.
        let span = tracer.startSpan("locky.withLock", ofKind: .internal)
        span.attributes["locky.resources"] = resources.count
        defer { span.end() }
        do {
            return try await ServiceContext.$current.withValue(span.context) {
                try await holding(
                    resources, ttl: ttl, timeout: timeout, label: label, maximumHoldTime: maximumHoldTime,
                    maximumRenewals: maximumRenewals, fair: fair, body)
            }
        } catch {
            span.recordError(error)
            throw error
        }
    }

    /// ``withLock(_:ttl:timeout:label:maximumHoldTime:maximumRenewals:fair:_:)-([String],_,_,_,_,_,_,_)``
    /// once its own arguments are checked, inside its span if any.
    private func holding<T: Sendable>(
        _ resources: [String],
        ttl: Duration?,
        timeout: Duration?,
        label: String?,
        maximumHoldTime: Duration?,
        maximumRenewals: Int?,
        fair: Bool,
        _ body: @escaping @Sendable (Lease) async throws -> T
    ) async throws -> T {
        let lease = try await acquire(resources, ttl: ttl, label: label, timeout: timeout, fair: fair)
        // Use the client's loop when it runs; otherwise renew this lease in a loop of its own.
        let scheduler =
            renewals.isRunning
            ? renewals
            : RenewalScheduler(backend: backend, clock: clock, logger: logger) { [configuration] ttl in
                Self.drift(ttl, factor: configuration.driftFactor)
            }
        scheduler.register(lease, maximumHoldTime: maximumHoldTime, maximumRenewals: maximumRenewals)
        // Its own loop runs beside the body, not as a child: a cancelled caller cancels the body,
        // but the lock must stay renewed until the body has returned (it may ignore the
        // cancellation, or need a while to wind down), as the client's loop keeps renewing it.
        // Not a stray task: nothing between here and the join below throws, so it is cancelled
        // and awaited on every path, before this call returns.
        let ownLoop: Task<Void, Never>? =
            scheduler === renewals
            ? nil
            : Task(executorPreference: backend.preferredTaskExecutor) {
                // `try?`: this call's own scheduler, whose loop no one else runs.
                try? await scheduler.run()
            }

        let outcome: Result<T, any Error>
        do {
            outcome = .success(
                try await withThrowingTaskGroup(of: ScopedChild<T>.self) { group in
                    let clock = self.clock
                    group.addTask {
                        // A task that was paused between the hand-over and here holds nothing.
                        guard lease.isValid else {
                            lease.markLost(lease.lossReason ?? .expired)
                            throw Self.lostError(lease.lossReason ?? .expired, resources: resources)
                        }
                        let value = try await body(lease)
                        return .finished(value, at: clock.now)
                    }
                    group.addTask { .lost(await lease.waitUntilLost(id: 0)) }
                    while let child = try await group.next() {
                        switch child {
                        case .finished(let value, let finishedAt):
                            group.cancelAll()
                            // A body that outlived the lease (its process was paused, its loop
                            // starved) did not run under the lock: say so, never return as if it had.
                            if lease.validUntil <= finishedAt {
                                lease.markLost(lease.lossReason ?? .expired)
                                throw Self.lostError(lease.lossReason ?? .expired, resources: resources)
                            }
                            return value
                        case .lost(let loss?):
                            group.cancelAll()
                            throw Self.lostError(loss, resources: resources)
                        case .lost(nil):
                            continue
                        }
                    }
                    throw LockError(.cancelled, "cancelled while holding the lock")
                }
            )
        } catch {
            if let loss = lease.lossReason, !(error is LockError) {
                // The body failed because we cancelled it after the loss: report the loss.
                outcome = .failure(Self.lostError(loss, resources: resources))
            } else {
                outcome = .failure(error)
            }
        }
        scheduler.unregister(lease)
        ownLoop?.cancel()
        await ownLoop?.value
        // Always release, also from a cancelled task (the Redis client still sends then).
        _ = try? await release(lease)
        // Nothing renews or releases the lease from here on, even if that release failed: the
        // loops over its states end now rather than wait forever.
        lease.endStates(released: false)
        return try outcome.get()
    }

    static func lostError(_ loss: LeaseLoss, resources: [String]) -> LockError {
        switch loss {
        case .notOwner(let holder):
            return LockError(
                .lockLost, "the lock was lost: it is held by another owner or expired", resource: resources.first, holder: holder)
        case .expired:
            return LockError(
                .lockLost,
                "the lock was lost: its validity passed before a renewal confirmed it (the backend could not be reached, or this process was paused)",
                resource: resources.first)
        case .maximumHoldTimeReached:
            return LockError(.lockLost, "the lock was released: maximum hold time reached", resource: resources.first)
        case .maximumRenewalsReached:
            return LockError(.lockLost, "the lock was released: maximum number of renewals reached", resource: resources.first)
        case .renewalStopped:
            return LockError(
                .lockLost, "the lock was given up: the client's renewal loop stopped (shutdown)", resource: resources.first)
        }
    }
}
