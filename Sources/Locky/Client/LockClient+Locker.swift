import CoreMetrics
import Tracing

extension LockClient {
    /// Locks resources for a named locker, each independently, in one round trip.
    ///
    /// A free resource is taken (new fencing token); one the locker already holds gets its TTL
    /// reset; one held by another is reported ``LockOutcome/busy(_:)`` and left untouched (its
    /// TTL is not refreshed). With `force`, busy resources are taken over. The TTL is the
    /// configuration's `lockerTTL` (nil: no expiry).
    public func lock(_ resources: [String], locker: String, force: Bool = false) async throws(LockError)
        -> [ResourceResult<LockOutcome>]
    {
        try LockLimits.validate(resources: resources)
        try LockLimits.validate(owner: locker, role: "locker")
        let outcomes = try await traced("locky.lock", resources: resources.count, force: force) { _ async throws(LockError) in
            try await backend.checkedLock(resources, locker: locker, ttl: configuration.lockerTTL, force: force)
        }
        for outcome in outcomes {
            switch outcome {
            case .acquired: metrics.acquired.increment()
            case .busy: metrics.busy.increment()
            // Held already: a TTL reset, nothing taken.
            case .alreadyHeld: break
            }
        }
        return zip(resources, outcomes).map { ResourceResult(resource: $0, outcome: $1) }
    }

    /// Locks one resource for a named locker; see ``lock(_:locker:force:)->[ResourceResult<LockOutcome>]``.
    public func lock(_ resource: String, locker: String, force: Bool = false) async throws(LockError) -> LockOutcome {
        try await lock([resource], locker: locker, force: force)[0].outcome
    }

    /// Resets the TTL of held resources; does nothing on unlocked ones. Without a `locker` it
    /// refreshes whoever holds them (as the seed does; on Redlock the holder a quorum of nodes
    /// names, asked first); with one, only where that locker holds them.
    public func refresh(_ resources: [String], locker: String? = nil) async throws(LockError) -> [ResourceResult<RefreshOutcome>]
    {
        try LockLimits.validate(resources: resources)
        if let locker { try LockLimits.validate(owner: locker, role: "locker") }
        let outcomes = try await traced("locky.refresh", resources: resources.count) { _ async throws(LockError) in
            try await backend.checkedRefresh(resources, locker: locker, ttl: configuration.lockerTTL)
        }
        return zip(resources, outcomes).map { ResourceResult(resource: $0, outcome: $1) }
    }

    /// Refreshes one resource; see ``refresh(_:locker:)->[ResourceResult<RefreshOutcome>]``.
    public func refresh(_ resource: String, locker: String? = nil) async throws(LockError) -> RefreshOutcome {
        try await refresh([resource], locker: locker)[0].outcome
    }

    /// Unlocks resources. Without a `locker` it is unconditional (as in the seed); with one,
    /// only resources held by that locker are unlocked and others are reported, untouched.
    public func unlock(_ resources: [String], locker: String? = nil) async throws(LockError) -> [ResourceResult<UnlockOutcome>] {
        try LockLimits.validate(resources: resources)
        if let locker { try LockLimits.validate(owner: locker, role: "locker") }
        let outcomes = try await traced("locky.unlock", resources: resources.count) { _ async throws(LockError) in
            try await backend.checkedUnlock(resources, owner: locker)
        }
        for outcome in outcomes where outcome == .unlocked { metrics.released.increment() }
        return zip(resources, outcomes).map { ResourceResult(resource: $0, outcome: $1) }
    }

    /// Unlocks one resource; see ``unlock(_:locker:)->[ResourceResult<UnlockOutcome>]``.
    public func unlock(_ resource: String, locker: String? = nil) async throws(LockError) -> UnlockOutcome {
        try await unlock([resource], locker: locker)[0].outcome
    }

    /// Who holds each resource: its owner string (a locker id, or a lease's `label/token`), or nil.
    public func locker(of resources: [String]) async throws(LockError) -> [ResourceResult<String?>] {
        try await holders(of: resources).map { ResourceResult(resource: $0.resource, outcome: $0.outcome?.owner) }
    }

    /// Who holds the resource, or nil when it is free.
    public func locker(of resource: String) async throws(LockError) -> String? {
        try await locker(of: [resource])[0].outcome
    }

    /// The holder of each resource with its remaining TTL and fencing token, or nil when free.
    public func holders(of resources: [String]) async throws(LockError) -> [ResourceResult<LockHolder?>] {
        try LockLimits.validate(resources: resources)
        let holders = try await traced("locky.locker", resources: resources.count) { _ async throws(LockError) in
            try await backend.checkedHolders(resources)
        }
        return zip(resources, holders).map { ResourceResult(resource: $0, outcome: $1) }
    }

    /// Every held lock whose resource matches `pattern` (a glob, see ``ResourcePattern``; nil
    /// for all) with its holder, sorted by resource: "who is editing what". Found with `SCAN`
    /// (never `KEYS`), so it is safe on a busy server but reads the whole key space: for
    /// dashboards and tools (`locky status`), not for every request. On Redlock a quorum of
    /// nodes must answer SCAN, and each lock listed is one a quorum agrees on.
    ///
    /// - Throws: ``LockError`` `backendUnavailable`, `serverError` (e.g. an ACL without `SCAN`),
    ///   `invalidArgument` for a backend that cannot list its locks; on Redlock `quorumNotReached`.
    public func heldLocks(matching pattern: String? = nil) async throws(LockError) -> [ResourceResult<LockHolder>] {
        let filter = pattern.map(ResourcePattern.init)
        // One span for the listing and its holder reads: one call of the caller's.
        let locks = try await traced("locky.locker", resources: nil) { span async throws(LockError) in
            let resources = try await backend.lockedResources().filter { filter?.matches($0) ?? true }
            span?.attributes["locky.resources"] = resources.count
            var locks: [ResourceResult<LockHolder>] = []
            // A thousand per script call: short enough not to hold up a busy server.
            for start in stride(from: 0, to: resources.count, by: 1_000) {
                let batch = Array(resources[start..<min(start + 1_000, resources.count)])
                for (resource, holder) in zip(batch, try await backend.checkedHolders(batch)) {
                    if let holder { locks.append(ResourceResult(resource: resource, outcome: holder)) }
                }
            }
            return locks
        }
        return locks.sorted { $0.resource < $1.resource }
    }

    /// The holder of one resource, or nil when it is free.
    public func holder(of resource: String) async throws(LockError) -> LockHolder? {
        try await holders(of: [resource])[0].outcome
    }

    /// Runs `body`, one call of the locker API, inside a client span `name` (when tracing) with
    /// the number of resources (nil: `body` sets it) and `force`, recording its error.
    private func traced<T>(
        _ name: String, resources: Int?, force: Bool = false, _ body: ((any Span)?) async throws(LockError) -> T
    ) async throws(LockError) -> T {
        let span = tracer?.startSpan(name, ofKind: .client)
        if let resources { span?.attributes["locky.resources"] = resources }
        if force { span?.attributes["locky.force"] = true }
        defer { span?.end() }
        do {
            return try await body(span)
        } catch {
            span?.recordError(error)
            throw error
        }
    }
}
