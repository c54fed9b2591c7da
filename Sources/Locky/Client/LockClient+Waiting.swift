import CoreMetrics
import LockyRedis
import Logging
import Synchronization
import Tracing

extension LockClient {
    /// Takes a resource, waiting while it is busy: woken by the holder's release (a push, never
    /// polling), or at the holder's expiry if it crashed.
    ///
    /// - Parameters:
    ///   - resource: The resource to take.
    ///   - ttl: The lease TTL; the configuration's by default.
    ///   - label: A readable label for the owner (who holds it); the configuration's by default.
    ///   - timeout: How long to wait at most, also for an attempt in flight at the deadline (the
    ///   last try at the deadline gets 25 ms); nil waits without limit.
    ///   - fair: Acquire in arrival order across processes (below); one resource only, and not on Redlock.
    /// - Throws: ``LockError`` `timedOut` (with the holder; also at the deadline when the
    ///   server had not answered the attempt then, with the last holder seen, or had not
    ///   confirmed the wait's subscription to wake-ups), `cancelled`, `authenticationFailed`,
    ///   `invalidArgument`, `serverError`; `alreadyExpired` when three replies in a row came too
    ///   late to leave a lease any validity (the TTL is too short for this backend); `backendUnavailable` at once when the server cannot be reached at
    ///   the start, and after `retry.count` failed attempts in a row (`retry.delay` apart; a
    ///   negative count: until the deadline) when it goes away during the wait, so a restart is
    ///   ridden out; on Redlock `quorumNotReached` once too few nodes answered `retry.count`
    ///   times in a row.
    ///
    /// With `fair`, waiters of all processes acquire in arrival order (a FIFO queue in Redis,
    /// next to the lock): a release hands the lock to the first waiter, and a waiter that
    /// crashed is skipped or evicted from the queue. Without it, a newcomer may take a free
    /// lock ahead of waiters (barging); on Redis and in memory a waiter that found it busy then
    /// queues the same way, so a release hands it over without a round trip and waits stay
    /// bounded (on Redlock, which has no queue, it wakes on the lock events instead).
    public func acquire(
        _ resource: String,
        ttl: Duration? = nil,
        label: String? = nil,
        timeout: Duration? = nil,
        fair: Bool = false
    ) async throws(LockError) -> Lease {
        try await acquire([resource], ttl: ttl, label: label, timeout: timeout, fair: fair)
    }

    /// Takes all resources or none, waiting while any is busy.
    ///
    /// The wait subscribes to lock events before the first attempt, so no release is missed.
    /// In this process only the first waiter of a resource retries when it is released (the
    /// others queue behind it); a waiter that sees the holder's TTL arms a timer for it (plus
    /// a little jitter, so processes do not retry in lockstep) in case the holder crashed; a
    /// holder without expiry (another library's, whose release publishes nothing) is tried
    /// again about every 667 ms instead.
    public func acquire(
        _ resources: [String],
        ttl: Duration? = nil,
        label: String? = nil,
        timeout: Duration? = nil,
        fair: Bool = false
    ) async throws(LockError) -> Lease {
        try LockLimits.validate(resources: resources)
        if fair, resources.count != 1 {
            throw LockError(.invalidArgument, "fair waiting takes exactly one resource")
        }
        let ttl = ttl ?? configuration.leaseTTL
        try validate(leaseTTL: ttl)
        if let timeout, timeout < .zero { throw LockError(.invalidArgument, "the timeout (\(timeout.readable)) is negative") }
        let label = label ?? configuration.label
        if let label { try LockLimits.validate(owner: label, role: "label") }
        // No time to wait: one attempt, without subscribing first (there is nothing to be woken
        // for, and an unreachable server is then reported at once, as itself).
        if timeout == .zero, !fair {
            return try await acquire(resources, ttl: ttl, label: label, retry: .never, asWaitWithoutTime: true)
        }

        let span = tracer?.startSpan("locky.acquire", ofKind: .client)
        span?.attributes["locky.resources"] = resources.count
        span?.attributes["locky.wait"] = true
        defer { span?.end() }
        // The acquire latency counts from here: subscribing to wake-ups is part of the wait.
        let started = clock.now
        let deadline = timeout.map { clock.now + $0 }
        let owner = LeaseOwner.make(label: label)
        let id = waiterIDs.add(1, ordering: .relaxed).newValue
        let signal = WakeSignal()
        let queues = waitQueues
        let watched = Set(resources.map(ExactName.init))
        // Queued in Redis (fair mode, or one resource on a backend that hands locks over): a
        // waiter id, the client's wake channel, and the hand-off. Otherwise lock events.
        let queued = fair || (resources.count == 1 && backend.handsOverToWaiters)
        let waiter = queued ? "\(clientToken).\(id)" : ""
        // Woken by ``close()`` once its backend is closed; registered too late for that, it
        // finds the flag set after the backend closed: one of the two sees the other.
        openWaits.withLock { $0[id] = signal }
        defer { openWaits.withLock { _ = $0.removeValue(forKey: id) } }
        if backendClosed.load(ordering: .sequentiallyConsistent) { signal.fire() }
        do {
            // On the backend's executor (Redis: the connection's event loop) for the whole wait:
            // subscribing, every attempt and each wake-up then cost no thread switch; only the
            // return to the caller does.
            return try await withTaskExecutorPreference(backend.preferredTaskExecutor) {
                // Wake-ups for this waiter: a release or expiry of one of its resources (in fair
                // mode only when it is named next, or nobody is), unless it is queued behind
                // another local waiter of that resource; anything after a gap.
                // The subscription waits no longer than the wait has left (at least the last
                // attempt's grace): a server that does not confirm it cannot hold the wait past
                // its timeout (below: `timedOut`).
                try await backend.withWakeHandler(
                    waiter: queued ? waiter : nil,
                    subscribeWait: replyWait(until: deadline),
                    { hint in
                        switch hint {
                        case .released(let resource, let next):
                            guard watched.contains(ExactName(resource)) else { return }
                            if queued {
                                if next == nil || next == waiter { signal.fire() }
                            } else if !queues.isWaitingBehind(resource, id: id) {
                                signal.fire()
                            }
                        case .handedOver(let resource, let to, let token, let attempt):
                            if queued, to == waiter, watched.contains(ExactName(resource)) {
                                signal.handOver(fencingToken: token, attempt: attempt)
                            }
                        case .ttlShortened(let resource, let ttl, let first):
                            // Still held, but its expiry timer (armed by the resource's first
                            // waiter only) is now late: that waiter re-arms it at the new
                            // deadline (queued and named: without a round trip; else it tries
                            // again). Nobody else: the others have no timer to move.
                            guard watched.contains(ExactName(resource)) else { return }
                            if queued {
                                if first == waiter {
                                    signal.holderExpires(at: self.clock.now + ttl)
                                } else if first == nil {
                                    signal.fire()
                                }
                            } else if !queues.isWaitingBehind(resource, id: id) {
                                signal.fire()
                            }
                        case .gap:
                            // Any release may have been missed: wake as if every watched resource
                            // were released. Unqueued waiters behind another local waiter of each
                            // resource stay asleep (its head retries, and wakes the next when it
                            // leaves): Redlock passes a gap every `retry.delay` while a node's wake
                            // subscription is missing, and waking every local waiter each time was
                            // a thundering herd within the process. Queued waiters all retry: each
                            // holds a place of its own in the queue in Redis, which a restarted
                            // server has lost (the retry queues it again), and a hand-off naming it
                            // may have been missed.
                            if queued || !queues.isWaitingBehindOnAll(resources, id: id) { signal.fire() }
                        }
                    }
                ) {
                    if queued {
                        return try await queuedWaitingLoop(
                            resources[0], owner: owner, ttl: ttl, deadline: deadline, waiter: waiter, signal: signal,
                            barging: !fair, started: started)
                    }
                    return try await waitingLoop(
                        resources, owner: owner, ttl: ttl, deadline: deadline, id: id, signal: signal, started: started)
                }
            }
        } catch {
            let lockError: LockError
            switch error {
            case let error as LockError: lockError = error
            case is CancellationError: lockError = LockError(.cancelled, "cancelled while waiting for the lock")
            case let error as RedisClientError:
                if let deadline, clock.now >= deadline, error.code == .timeout {
                    // The subscription went unconfirmed until the deadline (a stopped server, a
                    // proxy that swallows it): no attempt was made, nothing was taken.
                    lockError = LockError(
                        .timedOut, "the timeout passed while the server had not confirmed the subscription to lock events",
                        resource: resources.count == 1 ? resources[0] : nil, underlying: error)
                } else {
                    lockError = LockError(error, during: "watching lock events")
                }
            default: lockError = LockError(.backendUnavailable, "cannot watch lock events: \(error)")
            }
            span?.recordError(lockError)
            throw lockError
        }
    }

    /// Waits on lock events (no queue in the backend). `started`: when the call began, for the
    /// acquire latency.
    private func waitingLoop(
        _ resources: [String],
        owner: String,
        ttl: Duration,
        deadline: ContinuousClock.Instant?,
        id: UInt64,
        signal: WakeSignal,
        started: ContinuousClock.Instant
    ) async throws(LockError) -> Lease {
        var queued: String?
        defer { if let queued { waitQueues.leave(queued, id: id) } }
        var generator = SystemRandomNumberGenerator()
        var attempts = 0
        var failuresInARow = 0
        var answered = false
        var expiredInARow = 0
        // The last holder an attempt found, for a timeout that cuts a later attempt short.
        var lastBusy: (resource: String, holder: LockHolder)?
        var abandoned = false
        // A wait counts one busy, however many wake-ups find the lock still held (as the queued loop).
        var busyCounted = false
        while true {
            attempts += 1
            let attemptStart = clock.now
            let reply: AcquireReply
            do {
                reply = try await attempt(
                    resources, owner: owner, deadline: deadline,
                    resource: lastBusy?.resource ?? (resources.count == 1 ? resources[0] : nil), holder: lastBusy?.holder,
                    abandoned: &abandoned
                ) { (replyWait) async throws(LockError) in
                    try await backend.checkedAcquire(resources, owner: owner, ttl: ttl, replyWait: replyWait)
                }
            } catch {
                // Redlock: too few nodes answered (failed or slow nodes; a split vote answers
                // busy), and it gave back what it got. Redis: the server went away after it had
                // answered; the attempt may have taken the lock (given back by ``attempt``).
                let quorumFailed = error.code == .quorumNotReached
                guard !abandoned, !closedFor(error), quorumFailed || (answered && error.code == .backendUnavailable) else {
                    throw error
                }
                failuresInARow += 1
                try await pauseBeforeRetry(after: error, failuresInARow: failuresInARow, deadline: deadline, using: &generator)
                continue
            }
            answered = true
            switch reply {
            case .acquired(let tokens):
                guard
                    let lease = try await handOverWhileWaiting(
                        resources, owner: owner, fencingTokens: tokens, ttl: ttl, attemptStart: attemptStart, started: started,
                        deadline: deadline, expiredInARow: &expiredInARow)
                else { continue }
                logger.trace("acquired after waiting", metadata: ["locky.attempts": "\(attempts)"])
                return lease
            case .busy(let index, let holder):
                if !busyCounted { metrics.busy.increment() }
                busyCounted = true
                // The nodes answered: failures count in a row, as documented.
                failuresInARow = 0
                let resource = resources[index]
                lastBusy = (resource, holder)
                if queued != resource {
                    if let queued { waitQueues.leave(queued, id: id) }
                    waitQueues.join(resource, id: id, signal: signal)
                    queued = resource
                }
                let now = clock.now
                if let deadline, now >= deadline {
                    throw LockError(.timedOut, "still held by \(holder.displayName)", resource: resource, holder: holder)
                }
                // The first local waiter also watches the holder's expiry, in case it crashed.
                var wakeAt = deadline
                if waitQueues.isHead(resource, id: id) {
                    let jitter = Duration.microseconds(Int64.random(in: 0...2000, using: &generator))
                    // A holder without expiry may be another library's client, whose release
                    // publishes nothing and leaves no expiry to watch: try again as often as a
                    // queued waiter refreshes its place, rather than until the deadline (or forever).
                    let expiry = now + (holder.remaining ?? Self.fairWaiterTTL / 3) + jitter
                    wakeAt = wakeAt.map { min($0, expiry) } ?? expiry
                }
                guard try await wait(for: signal, until: wakeAt) else { continue }
            }
        }
    }

    /// How long a fair waiter's place in the queue lasts without a refresh; it refreshes at a third.
    static let fairWaiterTTL: Duration = .seconds(2)

    /// Waits in the resource's queue in Redis. `barging`: first try to take the lock the
    /// ordinary way, ahead of any queue (non-fair mode), and queue only when that finds it busy.
    /// `started`: when the call began, for the acquire latency.
    private func queuedWaitingLoop(
        _ resource: String,
        owner: String,
        ttl: Duration,
        deadline: ContinuousClock.Instant?,
        waiter: String,
        signal: WakeSignal,
        barging: Bool,
        started: ContinuousClock.Instant
    ) async throws(LockError) -> Lease {
        let firstAttemptStart = clock.now
        var generator = SystemRandomNumberGenerator()
        var busyCounted = false
        var expiredInARow = 0
        // The last holder an attempt found, and whether the deadline cut an attempt short.
        var lastHolder: LockHolder?
        var abandoned = false
        if barging {
            let reply = try await attempt(
                [resource], owner: owner, deadline: deadline, resource: resource, holder: nil, abandoned: &abandoned
            ) {
                (replyWait) async throws(LockError) in
                try await backend.checkedAcquire([resource], owner: owner, ttl: ttl, replyWait: replyWait)
            }
            switch reply {
            case .acquired(let tokens):
                // Expired before it could be handed over (a stalled reply): queue as if busy.
                if let lease = try await handOverWhileWaiting(
                    [resource], owner: owner, fencingTokens: tokens, ttl: ttl, attemptStart: firstAttemptStart, started: started,
                    deadline: deadline, expiredInARow: &expiredInARow)
                {
                    return lease
                }
            case .busy(_, let holder):
                metrics.busy.increment()
                busyCounted = true
                lastHolder = holder
                // No time left to wait: do not queue at all.
                if let deadline, clock.now >= deadline {
                    throw LockError(.timedOut, "still held by \(holder.displayName)", resource: resource, holder: holder)
                }
            }
        }
        // Attempts are numbered from 1: a release that hands the lock over names the attempt
        // that queued this waiter last, so the lease's validity counts from that attempt's start.
        var number = 0
        // The server answered during this wait (a barging attempt found the lock busy): from
        // then on a lost connection is a blip to ride out, as in the unqueued loop.
        var answered = barging
        var failuresInARow = 0
        do throws(LockError) {
            while true {
                let attemptStart = clock.now
                number += 1
                let reply: FairAcquireReply
                do {
                    reply = try await attempt(
                        [resource], owner: owner, deadline: deadline, resource: resource, holder: lastHolder,
                        abandoned: &abandoned
                    ) { (replyWait) async throws(LockError) in
                        try await backend.acquireFair(
                            resource, owner: owner, ttl: ttl, waiter: waiter, waiterTTL: Self.fairWaiterTTL, attempt: number,
                            replyWait: replyWait)
                    }
                } catch  where answered && error.code == .backendUnavailable && !closedFor(error) {
                    // Still queued in Redis for the place's lifetime; the next attempt renews it
                    // (or queues again behind whoever came meanwhile, after a restart).
                    failuresInARow += 1
                    try await pauseBeforeRetry(
                        after: error, failuresInARow: failuresInARow, deadline: deadline, using: &generator)
                    continue
                }
                answered = true
                failuresInARow = 0
                switch reply {
                case .acquired(let token):
                    if let lease = try await handOverWhileWaiting(
                        [resource], owner: owner, fencingTokens: [token], ttl: ttl, attemptStart: attemptStart, started: started,
                        deadline: deadline, expiredInARow: &expiredInARow)
                    {
                        return lease
                    }
                case .handedOver(let token, let remaining):
                    // Handed over before this attempt ran: valid for `remaining` from before it.
                    let validFor = remaining ?? ttl
                    if attemptStart + min(validFor, ttl) - drift(ttl) > clock.now {
                        return try await handOver(
                            [resource], owner: owner, fencingTokens: [token], ttl: ttl, attemptStart: attemptStart,
                            started: started, validFor: validFor)
                    }
                    // A pause used up most of it. The lock is ours in queue order: extend it to a
                    // full TTL rather than spin until it lapses or hand back a lease about to end.
                    let extendStart = clock.now
                    let extended = try await attempt(
                        [resource], owner: owner, deadline: nil, resource: resource, holder: lastHolder,
                        abandoned: &abandoned
                    ) { (_) async throws(LockError) in
                        try await backend.checkedExtend([resource], owner: owner, ttl: ttl, mode: .resetTo)
                    }
                    if extended == .extended,
                        let lease = try await handOverWhileWaiting(
                            [resource], owner: owner, fencingTokens: [token], ttl: ttl, attemptStart: extendStart,
                            started: started, deadline: deadline, expiredInARow: &expiredInARow)
                    {
                        return lease
                    }
                // It lapsed in between: queue again.
                case .queued(let holder, let first):
                    // Once per wait: the loop comes here again each time it refreshes its place.
                    if !busyCounted { metrics.busy.increment() }
                    busyCounted = true
                    if let holder { lastHolder = holder }
                    let now = clock.now
                    if let deadline, now >= deadline {
                        throw LockError(
                            .timedOut,
                            "still held by \(holder?.displayName ?? "earlier waiters")",
                            resource: resource,
                            holder: holder
                        )
                    }
                    // Refresh the place in the queue in time; the first waiter also watches
                    // the holder's expiry.
                    let jitter = Duration.microseconds(Int64.random(in: 0...2000, using: &generator))
                    var wakeAt = now + Self.fairWaiterTTL / 3
                    if first, let remaining = holder?.remaining { wakeAt = min(wakeAt, now + remaining + jitter) }
                    if let deadline { wakeAt = min(wakeAt, deadline) }
                    // Told the holder's new expiry (an `S`: its TTL shortened, or the lock handed
                    // to the waiter ahead, which made this one first), the timer moves there with
                    // no round trip: one per hand-off while the lock is held cost every hand-off
                    // time. Only earlier: an `S` that raced this attempt's reply may be older
                    // than it, and waking early costs one attempt, waking late a crashed holder's
                    // expiry. Any other wake-up (a release, a gap, a hand-off to this waiter) ends
                    // the wait: each fires the signal, which a later wait finds pending.
                    while try await wait(for: signal, until: wakeAt), !signal.hasHandOver,
                        let expiry = signal.takeHolderExpiry()
                    {
                        wakeAt = min(wakeAt, expiry + jitter)
                    }
                    // Handed over by a release: no round trip. The lock was set after the named
                    // attempt ran, so its validity counts from that attempt's start. Only a
                    // hand-off naming the latest attempt counts: one naming an earlier attempt
                    // came before the latest ran, and that attempt found the lock held by
                    // another (it answered queued), so it was taken over meanwhile (a forced
                    // lock, an unconditional unlock). One too old to leave any validity is
                    // confirmed by the next attempt instead.
                    if let handed = signal.takeHandOver(), handed.attempt == number {
                        if attemptStart + ttl - drift(ttl) > clock.now {
                            return try await handOver(
                                [resource], owner: owner, fencingTokens: [handed.fencingToken], ttl: ttl,
                                attemptStart: attemptStart, started: started)
                        }
                    }
                }
            }
        } catch {
            // Behind an attempt abandoned at the deadline, unanswered: sent in its place, not
            // waited for (the server is not answering; it runs when the server does). Else
            // waited for, but not past the deadline.
            try? await backend.leaveQueue(
                resource, waiter: waiter, owner: owner, replyWait: abandoned ? .zero : replyWait(until: deadline))
            throw error
        }
    }

    /// ``handOver(_:owner:fencingTokens:ttl:attemptStart:started:validFor:)`` for a waiting
    /// acquire: a lease that expired before it could be handed over (its reply stalled past the
    /// TTL: a paused server or process) is given back and nil returned, so the wait goes on
    /// while it lasts. Three in a row mean the TTL is too short for this backend: the error.
    private func handOverWhileWaiting(
        _ resources: [String], owner: String, fencingTokens: [Int64], ttl: Duration, attemptStart: ContinuousClock.Instant,
        started: ContinuousClock.Instant, deadline: ContinuousClock.Instant?, expiredInARow: inout Int
    ) async throws(LockError) -> Lease? {
        do {
            let lease = try await handOver(
                resources, owner: owner, fencingTokens: fencingTokens, ttl: ttl, attemptStart: attemptStart, started: started)
            expiredInARow = 0
            return lease
        } catch  where error.code == .alreadyExpired {
            expiredInARow += 1
            if expiredInARow >= 3 { throw error }
            if let deadline, clock.now >= deadline { throw error }
            logger.debug("the lease expired before it could be handed over; waiting on")
            return nil
        }
    }

    /// Before the next attempt after one that failed for want of servers (Redlock: no quorum;
    /// Redis: no connection, once the server has answered during this wait, so a restart or a
    /// failover is ridden out while a wrong address still fails at once): sleeps
    /// `retry.delay ± jitter`, with the last try at the deadline. Rethrows `error` once
    /// `retry.count` attempts in a row failed (a negative count: never) or the deadline passed.
    /// A pause of its own, not a wait for the waiter's wake-ups: a failed Redlock attempt gives
    /// back what it got, and that release would wake this waiter at once, back to back
    /// (hundreds of attempts a second against the nodes still up). ``close()`` ends it.
    private func pauseBeforeRetry(
        after error: LockError, failuresInARow: Int, deadline: ContinuousClock.Instant?,
        using generator: inout SystemRandomNumberGenerator
    ) async throws(LockError) {
        guard configuration.retry.allowsRetry(failuresInARow) else { throw error }
        var retryAt = clock.now + configuration.retry.nextDelay(using: &generator)
        if let deadline {
            guard clock.now < deadline else { throw error }
            retryAt = min(retryAt, deadline)
        }
        logger.debug(
            "waiting acquire failed, retrying",
            metadata: ["locky.error": "\(error.code)", "locky.failures": "\(failuresInARow)"])
        try await pause(until: retryAt)
    }

    /// Runs one acquire attempt on `resources`, passing `call` the reply wait that `deadline`
    /// leaves; when it fails in a way that may have taken the locks, lets go of them before
    /// rethrowing (``forgetUnknownAcquire(_:owner:after:replyWait:)``; not after Redlock's
    /// `quorumNotReached`, whose acquire gave back what it got). An attempt the deadline cut
    /// short sets `abandoned` and throws `timedOut` naming `resource` and `holder`
    /// (``deadlineCut(_:deadline:resource:holder:)``), its give-back sent behind it without
    /// waiting; otherwise the give-back is waited for, but not past the deadline.
    private func attempt<Reply>(
        _ resources: [String], owner: String, deadline: ContinuousClock.Instant?, resource: String?, holder: LockHolder?,
        abandoned: inout Bool, _ call: (Duration?) async throws(LockError) -> Reply
    ) async throws(LockError) -> Reply {
        do {
            return try await call(replyWait(until: deadline))
        } catch {
            let mayHaveTaken = error.code != .quorumNotReached
            if let cut = deadlineCut(error, deadline: deadline, resource: resource, holder: holder) {
                abandoned = true
                if mayHaveTaken { await forgetUnknownAcquire(resources, owner: owner, after: error, replyWait: .zero) }
                throw cut
            }
            if mayHaveTaken {
                await forgetUnknownAcquire(resources, owner: owner, after: error, replyWait: replyWait(until: deadline))
            }
            throw error
        }
    }

    /// How long an attempt started at or just before the deadline may still wait for its
    /// reply: the last try at the deadline (after a wake-up or a retry pause that ends there)
    /// gets this much, so that a server that answers at once can still grant it, and a wait
    /// overruns its timeout by at most this much when the server does not answer.
    static let lastAttemptGrace: Duration = .milliseconds(25)

    /// The reply wait of an attempt that starts now: the time left before `deadline` (at least
    /// ``lastAttemptGrace``), nil without a deadline (the backend's own timeouts apply). Passed
    /// down to the connection as a reply wait limit, so an unanswered attempt ends at the
    /// deadline while keeping its place there: no timer task, no task group.
    private func replyWait(until deadline: ContinuousClock.Instant?) -> Duration? {
        guard let deadline else { return nil }
        return max(deadline - clock.now, Self.lastAttemptGrace)
    }

    /// `timedOut` when `error` is an attempt's that went unanswered until the wait's deadline
    /// (a stopped server, a proxy that swallows replies; Redlock: nodes that timed out): the
    /// wait ends there, saying so, with the last holder seen, if any. Nil for other errors,
    /// and before the deadline.
    private func deadlineCut(
        _ error: LockError, deadline: ContinuousClock.Instant?, resource: String?, holder: LockHolder?
    ) -> LockError? {
        guard let deadline, clock.now >= deadline, error.code != .cancelled else { return nil }
        let timedOutNode = error.nodes.contains { if case .timedOut = $0.result { true } else { false } }
        guard error.underlying?.code == .timeout || (error.code == .quorumNotReached && timedOutNode) else { return nil }
        let held = holder.map { "; last held by \($0.displayName)" } ?? ""
        return LockError(
            .timedOut, "the timeout passed while the server had not answered the last attempt\(held)", resource: resource,
            holder: holder)
    }

    /// Waits for `signal` or until `instant`; true when signalled, false at the instant.
    private func wait(for signal: WakeSignal, until instant: ContinuousClock.Instant?) async throws(LockError) -> Bool {
        switch await signal.wait(until: instant, clock: clock) {
        case .signalled: return true
        case .timedOut: return false
        case .cancelled: throw LockError(.cancelled, "cancelled while waiting for the lock")
        }
    }
}
