import Logging
import Synchronization

/// Keeps leases alive: one loop renews every due lease, in batches of one script call each,
/// at about a third of the lease's TTL.
///
/// "Not owner" ends a lease at once. A backend that cannot be reached is retried until the
/// lease's validity passes; then the lease is lost. Every lease reports its state through
/// ``Lease/states()``, so a loss is never silent.
final class RenewalScheduler: Sendable {
    private struct Entry {
        let lease: Lease
        var nextDue: ContinuousClock.Instant
        var renewals = 0
        /// Set while renewals fail: such an entry waits for its own retry time exactly.
        var retrying = false
        let maximumRenewals: Int?
        let holdDeadline: ContinuousClock.Instant?
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var running = false
        /// Whether ``run()`` runs: one loop at a time, as loops share one wake signal (a second
        /// one's wait took the first's place, and the first was never woken again).
        var looping = false
        /// Set by ``stop()``: nothing will renew a lease registered from now on.
        var stopped = false
    }

    /// At most this many locks go into one renewal script call, except that a lease is never
    /// split: one of more resources (up to ``LockLimits/maximumResourcesPerCall``) goes alone.
    static let batchSize = 1000

    private let state = Mutex(State())
    private let wake = WakeSignal()
    private let backend: any LockBackend
    private let clock: any LockClock
    private let logger: Logger
    private let drift: @Sendable (Duration) -> Duration

    init(backend: any LockBackend, clock: any LockClock, logger: Logger, drift: @escaping @Sendable (Duration) -> Duration) {
        self.backend = backend
        self.clock = clock
        self.logger = logger
        self.drift = drift
    }

    /// Whether ``run()`` is running.
    var isRunning: Bool { state.withLock { $0.running } }

    /// Number of leases being renewed.
    var count: Int { state.withLock { $0.entries.count } }

    /// Starts renewing `lease`. Returns false, changing nothing, when it is renewed already: a
    /// second registration would start its renewal count and hold time over.
    @discardableResult
    func register(_ lease: Lease, maximumHoldTime: Duration?, maximumRenewals: Int?) -> Bool {
        let now = clock.now
        let holdDeadline = maximumHoldTime.map { now + $0 }
        // Watched before it is due time is computed (under the lock the watcher takes): a
        // deadline moved earlier meanwhile is seen by one or the other.
        let id = ObjectIdentifier(lease)
        lease.watchValidity(ObjectIdentifier(self)) { [weak self] in self?.validityMovedEarlier(id) }
        enum Registration { case added, renewedAlready, stopped }
        let registration = state.withLock { state -> Registration in
            guard !state.stopped else { return .stopped }
            guard state.entries[id] == nil else { return .renewedAlready }
            // A third of the TTL after the lock was taken, not after registration: a lease handed
            // over late (or registered with startRenewing later) must still be renewed in time.
            var firstDue = min(now + lease.ttl / 3, Self.due(lease))
            if let holdDeadline { firstDue = min(firstDue, holdDeadline) }
            state.entries[id] = Entry(
                lease: lease,
                nextDue: firstDue,
                maximumRenewals: maximumRenewals,
                holdDeadline: holdDeadline
            )
            return .added
        }
        switch registration {
        case .added:
            wake.fire()
        case .renewedAlready:
            // Its watcher was set again above, to the same effect.
            return false
        case .stopped:
            lease.unwatchValidity(ObjectIdentifier(self))
            end(lease, .renewalStopped)
        }
        return true
    }

    /// When `lease` is due by its deadline: with two thirds of its TTL left, as at a regular
    /// renewal, so whatever set the deadline (the acquire, an extend), a renewal has the same
    /// room to land or be retried. Now or earlier when less than that is left.
    private static func due(_ lease: Lease) -> ContinuousClock.Instant {
        lease.validUntil - lease.ttl * 2 / 3
    }

    /// The lease's deadline moved earlier (an extend to less than was left, an update that may
    /// have run unconfirmed): its renewal was planned from the old one, maybe past the new one.
    /// Planned again from the new one, and the loop woken to wait for that instead.
    private func validityMovedEarlier(_ id: ObjectIdentifier) {
        let earlier = state.withLock { state -> Bool in
            guard var entry = state.entries[id] else { return false }
            let due = Self.due(entry.lease)
            guard due < entry.nextDue else { return false }
            entry.nextDue = due
            state.entries[id] = entry
            return true
        }
        if earlier { wake.fire() }
    }

    /// Ends every lease still registered (`renewalStopped`), and every one registered later
    /// until the loop runs again: the client's loop stopped (its service shut down), so nothing
    /// would renew them, and a lease must never lapse without a word.
    func stop() {
        let leases = state.withLock { state -> [Lease] in
            state.stopped = true
            let leases = state.entries.values.map(\.lease)
            state.entries.removeAll()
            return leases
        }
        for lease in leases {
            lease.unwatchValidity(ObjectIdentifier(self))
            end(lease, .renewalStopped)
        }
    }

    /// Stops renewing `lease`.
    func unregister(_ lease: Lease) {
        lease.unwatchValidity(ObjectIdentifier(self))
        _ = state.withLock { $0.entries.removeValue(forKey: ObjectIdentifier(lease)) }
    }

    /// Marks the loop as running ahead of ``run()`` (which is about to start).
    func markRunning() {
        state.withLock {
            $0.running = true
            $0.stopped = false
        }
    }

    /// Renews due leases until the task is cancelled.
    /// - Throws: `invalidArgument` at once, changing nothing, while another loop runs.
    func run() async throws(LockError) {
        let started = state.withLock { state -> Bool in
            guard !state.looping else { return false }
            state.looping = true
            state.running = true
            state.stopped = false
            return true
        }
        guard started else {
            throw LockError(.invalidArgument, "the client's renewal loop is already running: call run() once per client")
        }
        defer {
            state.withLock {
                $0.running = false
                $0.looping = false
            }
        }
        while !Task.isCancelled {
            let now = clock.now
            let (due, next) = state.withLock { state -> ([Entry], ContinuousClock.Instant?) in
                var due: [Entry] = []
                var next: ContinuousClock.Instant?
                for entry in state.entries.values {
                    // Leases due soon ride along with those due now: fewer, larger batches. Not
                    // one waiting for its own retry time, nor one due only at the end of its
                    // hold: renewed early, it would be due at that same instant again, and again.
                    // Nor one out of renewals: it would only be ended, before its time.
                    let endsThen =
                        (entry.holdDeadline.map { $0 <= entry.nextDue } ?? false)
                        || (entry.maximumRenewals.map { entry.renewals >= $0 } ?? false)
                    // An extend may have ended the validity short of the renewal time (it found
                    // the lease lost, or confirmed it too late): ended now, never kept with a
                    // passed validity, which would cut every other lease's renewal short (the
                    // wait for one is bounded by the earliest validity the loop keeps). Not one
                    // being released: it waits for its release's answer at its own time.
                    let validUntil = entry.lease.isReleased ? entry.nextDue : entry.lease.validUntil
                    if validUntil <= now || entry.nextDue <= now
                        || (!entry.retrying && !endsThen && entry.nextDue <= now + entry.lease.ttl / 6)
                    {
                        due.append(entry)
                    } else {
                        let wakeAt = min(entry.nextDue, validUntil)
                        next = next.map { min($0, wakeAt) } ?? wakeAt
                    }
                }
                return (due, next)
            }
            if due.isEmpty {
                if await wake.wait(until: next, clock: clock) == .cancelled { return }
                continue
            }
            await renew(due)
        }
    }

    private func renew(_ due: [Entry]) async {
        var live: [Entry] = []
        let now = clock.now
        for entry in due {
            // Released first: a lease released before its bound is released, not lost by it.
            if entry.lease.isReleased {
                setAside(entry.lease, now: now)
            } else if let holdDeadline = entry.holdDeadline, holdDeadline <= now {
                end(entry.lease, .maximumHoldTimeReached)
            } else if let maximum = entry.maximumRenewals, entry.renewals >= maximum {
                end(entry.lease, .maximumRenewalsReached)
            } else if entry.lease.validUntil <= now {
                // Past its validity (a paused process): renewing it now could span another
                // owner's hold, and re-create keys for it on Redlock.
                end(entry.lease, .expired)
            } else {
                live.append(entry)
            }
        }
        var batch: [Entry] = []
        var batchResources = 0
        for entry in live {
            if batchResources + entry.lease.resources.count > Self.batchSize, !batch.isEmpty {
                await renewBatch(batch)
                batch.removeAll()
                batchResources = 0
            }
            batch.append(entry)
            batchResources += entry.lease.resources.count
        }
        if !batch.isEmpty { await renewBatch(batch) }
    }

    private func renewBatch(_ batch: [Entry]) async {
        // Released meanwhile (an earlier batch took a while): not renewed, or a re-creating
        // renewal could bring its keys back after the release. Past its validity meanwhile:
        // lost, and never renewed (that could span another owner's hold, or re-create its keys).
        let checkedAt = clock.now
        let batch = batch.filter { entry in
            if entry.lease.isReleased {
                setAside(entry.lease, now: checkedAt)
                return false
            }
            if entry.lease.validUntil <= checkedAt {
                end(entry.lease, .expired)
                return false
            }
            return true
        }
        guard !batch.isEmpty else { return }
        var items: [RenewalItem] = []
        for entry in batch {
            for resource in entry.lease.resources {
                items.append(RenewalItem(resource: resource, owner: entry.lease.owner, ttl: entry.lease.ttl))
            }
        }
        let start = clock.now
        let results: [RenewalResult]
        for entry in batch { entry.lease.beginValidityUpdate() }
        do {
            // Never wait past the earliest validity of any lease this loop keeps, in the batch or
            // not: a backend that stopped answering would otherwise keep the loss unnoticed until
            // the command timed out (5 s by default), and a lease waiting for its turn would run
            // on past its validity unsignalled meanwhile.
            results = try await renew(items, besides: batch)
        } catch {
            // Unanswered, it may still have run: each key may now expire a TTL after `start`,
            // sooner than an earlier, longer extend had it.
            for entry in batch {
                let bound = start + entry.lease.ttl - drift(entry.lease.ttl)
                entry.lease.endValidityUpdate { min($0, bound) }
            }
            await releaseAgainIfOvertaken(batch)
            let now = clock.now
            logger.debug("renewal failed", metadata: ["locky.leases": "\(batch.count)", "error": "\(error.code)"])
            for entry in batch where entry.lease.lossReason == nil {
                if entry.lease.isReleased {
                    setAside(entry.lease, now: now)
                } else {
                    retryOrExpire(entry.lease, failure: error.message, now: now)
                }
            }
            return
        }
        await releaseAgainIfOvertaken(batch)
        var offset = 0
        let now = clock.now
        for entry in batch {
            let slice = results[offset..<(offset + entry.lease.resources.count)]
            offset += entry.lease.resources.count
            let validUntil = start + entry.lease.ttl - drift(entry.lease.ttl)
            // Ended while its renewal was under way (its hold time passed): that end stands.
            if entry.lease.lossReason != nil {
                entry.lease.endValidityUpdate(nil)
                continue
            }
            if entry.lease.isReleased {
                // Released while the renewal was on its way: a lock found gone is the release's
                // doing, not a loss. Should the release fail, the renewal may have run first.
                entry.lease.endValidityUpdate { min($0, validUntil) }
                setAside(entry.lease, now: now)
                continue
            }
            let renewed = slice.allSatisfy { $0 == .renewed }
            // Undecided or lost, it may have run on some nodes: at most that validity.
            entry.lease.endValidityUpdate(renewed ? { _ in validUntil } : { min($0, validUntil) })
            if slice.contains(.unknown), slice.allSatisfy({ $0 == .renewed || $0 == .unknown }) {
                // Undecided (too few Redlock nodes answered for this lease): retried like an
                // unreachable backend, without holding up the others.
                retryOrExpire(entry.lease, failure: "too few nodes answered the renewal", now: now)
            } else if renewed {
                entry.lease.publish(.renewed(remaining: entry.lease.remaining))
                var next = clock.now + entry.lease.ttl / 3
                // An extend to less than was left that overlapped this renewal: the lease keeps
                // the shorter validity (Redis may have run it last), and is due by it.
                if entry.lease.validUntil < validUntil { next = min(next, Self.due(entry.lease)) }
                if let holdDeadline = entry.holdDeadline { next = min(next, holdDeadline) }
                reschedule(entry.lease, at: next, renewed: true)
            } else {
                var holder: LockHolder?
                for result in slice {
                    if case .heldByAnother(let owner) = result {
                        holder = LockHolder(owner: owner, remaining: nil)
                        break
                    }
                }
                end(entry.lease, .notOwner(holder: holder))
            }
        }
    }

    /// The earliest validity deadline among `batch` and every lease registered, but those
    /// being released (set aside until their release is answered) and those lost already.
    private func earliestValidity(besides batch: [Entry]) -> ContinuousClock.Instant? {
        let registered = state.withLock { state in
            state.entries.values.lazy.filter { !$0.lease.isReleased && $0.lease.lossReason == nil }
                .map(\.lease.validUntil).min()
        }
        let inBatch = batch.lazy.filter { $0.lease.lossReason == nil }.map(\.lease.validUntil).min()
        guard let registered else { return inBatch }
        return inBatch.map { min($0, registered) } ?? registered
    }

    /// A lease released while its renewal was under way: its release may have reached a node
    /// before the renewal did, and a renewal that re-creates missing keys (Redlock) then brought
    /// them back, to linger until their TTL. Released again now that the renewal has been
    /// answered: each node runs one connection's commands in order, so this comes after it.
    private func releaseAgainIfOvertaken(_ batch: [Entry]) async {
        guard backend.recreatesMissingLocks else { return }
        for entry in batch where entry.lease.isReleased {
            do {
                _ = try await backend.unlock(entry.lease.resources, owner: entry.lease.owner)
            } catch {
                logger.debug("release after an overtaken renewal failed", metadata: ["error": "\(error.code)"])
            }
        }
    }

    /// A released lease leaves the loop once its release was answered. While the release is in
    /// flight it may still fail, and be undone (it must then be tried again): the lease is held
    /// still, so it is looked at again shortly, not dropped. Dropped, it lapsed at its TTL
    /// unrenewed and without a word.
    private func setAside(_ lease: Lease, now: ContinuousClock.Instant) {
        if lease.isReleaseAnswered {
            unregister(lease)
        } else {
            reschedule(lease, at: now + min(lease.ttl / 10, .milliseconds(250)), renewed: false)
        }
    }

    /// A renewal that failed: retried soon, but well before the validity runs out; lost once
    /// the validity has passed. Never retried past the hold deadline, which ends it then.
    private func retryOrExpire(_ lease: Lease, failure: String, now: ContinuousClock.Instant) {
        lease.publish(.renewalFailed(message: failure))
        if now >= lease.validUntil {
            end(lease, .expired)
        } else {
            let retry = min(lease.ttl / 10, .milliseconds(250))
            var next = min(now + retry, lease.validUntil)
            if let holdDeadline = state.withLock({ $0.entries[ObjectIdentifier(lease)]?.holdDeadline }) {
                next = min(next, holdDeadline)
            }
            reschedule(lease, at: next, renewed: false)
        }
    }

    /// Ends every lease registered whose maximum hold time has passed (but one being released,
    /// which waits for its release's answer); returns the earliest hold deadline still ahead.
    /// While a renewal hangs, the loop cannot end them at their due time: this does it then.
    private func endHoldsPassed(at now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        let (passed, next) = state.withLock { state -> ([Lease], ContinuousClock.Instant?) in
            var passed: [Lease] = []
            var next: ContinuousClock.Instant?
            for entry in state.entries.values where !entry.lease.isReleased {
                guard let holdDeadline = entry.holdDeadline else { continue }
                if holdDeadline <= now {
                    passed.append(entry.lease)
                } else {
                    next = next.map { min($0, holdDeadline) } ?? holdDeadline
                }
            }
            return (passed, next)
        }
        for lease in passed { end(lease, .maximumHoldTimeReached) }
        return next
    }

    /// The backend's renewal of `batch`, abandoned (and cancelled) at the earliest validity of
    /// any lease this loop keeps (see ``earliestValidity(besides:)``). That deadline is looked at
    /// again whenever the loop's wake-up signal fires (a lease registered, a deadline moved
    /// earlier): one fixed when the renewal was sent let a lease that came later, or whose
    /// deadline moved, run on past its validity unsignalled until the renewal gave up.
    private func renew(_ items: [RenewalItem], besides batch: [Entry]) async throws(LockError) -> [RenewalResult] {
        let backend = self.backend
        let clock = self.clock
        let outcome = await withTaskGroup(of: Result<[RenewalResult], LockError>?.self) { group in
            group.addTask {
                do throws(LockError) {
                    return .success(try await backend.checkedRenew(items))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                // The loop itself does not wait on its signal while it renews: this is its only waiter.
                while true {
                    // A hold time that passes meanwhile ends its lease on time, the renewal or not.
                    let now = clock.now
                    let nextHold = self.endHoldsPassed(at: now)
                    let deadline = self.earliestValidity(besides: batch)
                    if let deadline, now >= deadline {
                        return .failure(
                            LockError(.backendUnavailable, "renewal got no answer before the lease's validity ran out"))
                    }
                    let wakeAt = [deadline, nextHold].compactMap { $0 }.min()
                    if await self.wake.wait(until: wakeAt, clock: clock) == .cancelled { return nil }
                }
            }
            defer { group.cancelAll() }
            let first: Result<[RenewalResult], LockError>?? = await group.next()
            return first ?? nil
        }
        switch outcome {
        case .success(let results): return results
        case .failure(let error): throw error
        case nil: throw LockError(.cancelled, "renewal was cancelled")
        }
    }

    private func reschedule(_ lease: Lease, at instant: ContinuousClock.Instant, renewed: Bool) {
        state.withLock { state in
            guard var entry = state.entries[ObjectIdentifier(lease)] else { return }
            entry.nextDue = instant
            entry.retrying = !renewed
            if renewed { entry.renewals += 1 }
            state.entries[ObjectIdentifier(lease)] = entry
        }
    }

    /// The reason's case alone: a `notOwner` holder is another owner's id, not for the logs.
    static func name(of reason: LeaseLoss) -> String {
        switch reason {
        case .notOwner: return "notOwner"
        case .expired: return "expired"
        case .maximumHoldTimeReached: return "maximumHoldTimeReached"
        case .maximumRenewalsReached: return "maximumRenewalsReached"
        case .renewalStopped: return "renewalStopped"
        }
    }

    private func end(_ lease: Lease, _ reason: LeaseLoss) {
        unregister(lease)
        lease.endValidity(at: clock.now)
        logger.debug("lease lost", metadata: ["locky.reason": "\(Self.name(of: reason))"])
        lease.markLost(reason)
    }
}
