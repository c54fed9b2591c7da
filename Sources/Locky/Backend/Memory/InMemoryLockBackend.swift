import HeapModule
import LockyRedis
import NIOCore
import Synchronization

/// Locks inside one process, with exactly the semantics of the Redis backend.
///
/// A product feature, not a mock: for single-process apps, and for unit tests of code that
/// uses Locky (inject a ``ManualLockClock`` to move time by hand). An entry past its deadline
/// counts as free; while someone watches expirations, a timer on the clock also expires each
/// lock at its deadline, so `expired` events come on time as on Redis (see
/// ``withEventHandler(expirations:_:_:)``). TTLs are rounded up to whole milliseconds at every
/// entry point, as Redis keeps them (`PX`), so expiry, `remaining` and `locked` events agree.
public final class InMemoryLockBackend: LockBackend {
    private struct Entry {
        var owner: String
        var expiresAt: ContinuousClock.Instant?
    }

    /// A fair waiter in a queue, with what a hand-off needs.
    private struct Waiter {
        var waiter: String
        /// On the real clock, never the injected one: Redis judges liveness by its own `TIME`,
        /// which a test's manual clock does not move either.
        var aliveUntil: ContinuousClock.Instant
        var owner: String
        var ttl: Duration?
        /// The attempt that queued or refreshed it last (named in a hand-off).
        var attempt: Int
    }

    /// A lock's deadline, for the expiry timer; ordered by instant.
    private struct Deadline: Comparable {
        var at: ContinuousClock.Instant
        var resource: ExactName

        static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.at < rhs.at }
    }

    /// The clock timer armed at the earliest deadline while expirations are watched.
    private struct Alarm {
        var deadline: ContinuousClock.Instant
        /// Tells this arming from later ones: a timer that fires after it was replaced does nothing.
        var generation: UInt64
        /// Nil until the timer is armed (outside the table's lock).
        var timer: LockTimer?
    }

    /// What to do with the timer after a change: done outside the table's lock, since a manual
    /// clock runs the action of a timer that is already due at once, and that action takes it.
    private struct AlarmChange: Sendable {
        var cancel: LockTimer?
        var arm: (deadline: ContinuousClock.Instant, generation: UInt64)?
    }

    private struct State {
        /// The key layout a Redis backend with the same prefix would use: fenced values live in
        /// the same key space as the locks there, so their keys are checked against it.
        let keyspace: LockKeyspace
        var locks: [ExactName: Entry] = [:]
        var fences: [ExactName: Int64] = [:]
        /// Fenced values with the token that wrote them and, apart, the highest token seen per
        /// key (a token-checked read raises it alone).
        var fenced: [ExactName: FencedValue] = [:]
        /// Every key the fencing helper has stored anything under (on Redis, a hash): a
        /// token-checked read of a key without a value stores its fence alone.
        var storeFences: [ExactName: Int64] = [:]
        var listeners: [UInt64: @Sendable (BackendEvent) -> Void] = [:]
        var expiryListeners: Set<UInt64> = []
        var nextListener: UInt64 = 0
        /// Wake-up handlers, with the fair waiter each serves (nil: it follows lock events).
        var wakeListeners: [UInt64: (waiter: String?, handler: @Sendable (WakeHint) -> Void)] = [:]
        /// Fair queues: waiters in arrival order.
        var queues: [ExactName: [Waiter]] = [:]
        /// Every deadline set while expirations are watched (empty otherwise), stale ones
        /// included: they are dropped when they come up.
        var deadlines = Heap<Deadline>()
        var alarm: Alarm?
        var alarmGeneration: UInt64 = 0
        /// Whether the timer may have to move (an earlier deadline came, or it fired).
        var alarmDirty = false
        /// Set by ``InMemoryLockBackend/close()``: every call fails from then on.
        var closed = false
        /// Ends the stream of each running ``InMemoryLockBackend/withEvents(expirations:_:)``, by
        /// its listener's id (called by ``InMemoryLockBackend/close()``).
        var streamFinishers: [UInt64: @Sendable () -> Void] = [:]

        /// Whether the fencing helper stored under `resource`'s lock key while it was free (a
        /// value, or a fence raised by a token-checked read): on Redis that key then holds a
        /// hash, which no lock script overwrites.
        func holdsFencedValue(_ resource: String) -> Bool {
            !storeFences.isEmpty && storeFences[ExactName(keyspace.lockKey(resource))] != nil
        }

        /// Whether the fencing helper stored under `resource`'s fence key before it was ever
        /// locked (a value, or a fence alone): on Redis that key then holds a hash, no counter,
        /// and nothing takes the resource.
        func fenceHoldsFencedValue(_ resource: String) -> Bool {
            !storeFences.isEmpty && storeFences[ExactName(keyspace.fenceKey(resource))] != nil
        }

        /// Throws what the Redis scripts that take locks answer, before they write anything, when
        /// one of `resources` has a fenced value (or fence) under its lock key (free) or its fence key.
        func checkTakeable(_ resources: [String], now: ContinuousClock.Instant, during operation: String? = nil)
            throws(LockError)
        {
            guard !storeFences.isEmpty else { return }
            for resource in resources where locks[ExactName(resource)] == nil && holdsFencedValue(resource) {
                throw .foreignLockValue(resource, during: operation)
            }
            for resource in resources where fenceHoldsFencedValue(resource) {
                throw .foreignFenceValue(resource, during: operation)
            }
        }

        /// Throws what Redis answers (WRONGTYPE) when `key` is a lock, fence or queue key of
        /// this prefix that exists: a fenced value cannot be read or written there. A waiters
        /// key is a hash, which the fencing scripts read and write without complaint.
        mutating func checkFencedKey(_ key: String, now: ContinuousClock.Instant, during operation: String) throws(LockError) {
            guard let (resource, suffix) = keyspace.resourceAndSuffix(ofKey: key) else { return }
            let what: String
            switch suffix {
            case "":
                guard live(resource, now: now) != nil else { return }
                what = "the lock"
            case LockKeyspace.fenceSuffix:
                guard fences[ExactName(resource)] != nil else { return }
                what = "the fencing counter"
            case LockKeyspace.queueSuffix:
                guard queues[ExactName(resource)] != nil else { return }
                what = "the fair queue"
            default:
                return
            }
            throw LockError(
                .serverError,
                "\(operation): the key holds \(what) of \(resource), not a fenced value (WRONGTYPE on Redis)",
                resource: resource)
        }

        /// Stores `entry` as `resource`'s lock, noting its deadline for the expiry timer.
        mutating func store(_ entry: Entry, for resource: ExactName) {
            locks[resource] = entry
            guard let at = entry.expiresAt, !expiryListeners.isEmpty else { return }
            deadlines.insert(Deadline(at: at, resource: resource))
            if alarm.map({ at < $0.deadline }) ?? true { alarmDirty = true }
        }

        /// Expires every lock whose deadline passed before `now` (the timer fired).
        mutating func expireDue(now: ContinuousClock.Instant) {
            while let first = deadlines.min, first.at < now {
                deadlines.removeMin()
                // Only if the lock still has that deadline: one released, re-taken or renewed
                // meanwhile has another (or none), and is not expired by an old one.
                if locks[first.resource]?.expiresAt == first.at { _ = live(first.resource.string, now: now) }
            }
            alarmDirty = true
        }

        /// The timer change the changes so far call for: armed at the earliest deadline while
        /// expirations are watched, else none.
        mutating func takeAlarmChange() -> AlarmChange? {
            guard alarmDirty else { return nil }
            alarmDirty = false
            let earliest = expiryListeners.isEmpty ? nil : deadlines.min?.at
            if let alarm, alarm.deadline == earliest { return nil }
            let old = alarm?.timer
            guard let earliest else {
                alarm = nil
                return old.map { AlarmChange(cancel: $0, arm: nil) }
            }
            alarmGeneration += 1
            alarm = Alarm(deadline: earliest, generation: alarmGeneration, timer: nil)
            return AlarmChange(cancel: old, arm: (earliest, alarmGeneration))
        }

        /// Tells waiters that `resource` is free, naming its fair queue's first waiter.
        func wake(_ resource: String) {
            let hint = WakeHint.released(resource: resource, next: queues[ExactName(resource)]?.first?.waiter)
            for listener in wakeListeners.values { listener.handler(hint) }
        }

        func emit(_ event: LockEvent) {
            if case .expired = event {
                for id in expiryListeners { listeners[id]?(.lock(event)) }
                return
            }
            for listener in listeners.values { listener(.lock(event)) }
        }

        /// Gives `resource`'s held lock the deadline `expiresAt` (nil: none), `ttl` from now.
        /// One earlier than before is news for the expiry watcher (the Redis scripts publish
        /// it too): the timer below moves on its own, but a clock that cannot arm timers
        /// leaves the expiry to the watcher. Waiters hear it too: the first one watches the
        /// holder's expiry on a timer of its own, armed at the old deadline.
        mutating func reset(_ resource: String, _ entry: Entry, ttl: Duration?, now: ContinuousClock.Instant) {
            var entry = entry
            let before = entry.expiresAt
            entry.expiresAt = ttl.map { now + $0 }
            store(entry, for: ExactName(resource))
            guard let ttl, let after = entry.expiresAt, before.map({ after < $0 }) ?? true else { return }
            tellShortened(resource, ttl: ttl)
        }

        /// Tells the expiry watchers and the waiters of `resource` that its lock now expires
        /// `ttl` from now, earlier than before (the Redis scripts' `T` and `S` news).
        func tellShortened(_ resource: String, ttl: Duration) {
            for id in expiryListeners { listeners[id]?(.ttlShortened(resource: resource, ttl: ttl)) }
            let hint = WakeHint.ttlShortened(resource: resource, ttl: ttl, first: queues[ExactName(resource)]?.first?.waiter)
            for listener in wakeListeners.values { listener.handler(hint) }
        }

        /// The live entry of `resource`, dropping it when expired: only once its deadline has
        /// passed, as Redis 7 expires a key when `now > when` (PTTL 0 at the deadline itself).
        mutating func live(_ resource: String, now: ContinuousClock.Instant) -> Entry? {
            guard let entry = locks[ExactName(resource)] else { return nil }
            if let expiresAt = entry.expiresAt, expiresAt < now {
                locks[ExactName(resource)] = nil
                emit(.expired(resource: resource))
                wake(resource)
                return nil
            }
            return entry
        }

        /// Hands a free `resource` to the first live waiter of its fair queue, as the Redis
        /// release script does, so no newcomer can take it first; wakes the waiters when nobody
        /// live is queued.
        mutating func handOffOrWake(_ resource: String, now: ContinuousClock.Instant) {
            let name = ExactName(resource)
            var queue = queues[name] ?? []
            // Live: within its deadline and still listening (a waiter whose task is gone is
            // skipped, as Redis skips one whose client left its wake channel).
            let realNow = ContinuousClock.now
            while let head = queue.first, !isLive(head, at: realNow) { queue.removeFirst() }
            guard !queue.isEmpty else {
                queues[name] = nil
                wake(resource)
                return
            }
            // A fenced value under the lock key is no lock to hand over; one under the fence key
            // leaves the token unknown: the waiters are woken and learn it from their own try.
            if holdsFencedValue(resource) || fenceHoldsFencedValue(resource) {
                queues[name] = queue
                wake(resource)
                return
            }
            let head = queue.removeFirst()
            queues[name] = queue.isEmpty ? nil : queue
            let token = take(resource, owner: head.owner, ttl: head.ttl, now: now)
            let hint = WakeHint.handedOver(resource: resource, waiter: head.waiter, fencingToken: token, attempt: head.attempt)
            for listener in wakeListeners.values { listener.handler(hint) }
            // The waiter behind is first now: it watches the new holder's expiry (as on Redis).
            tellFirst(resource, now: now)
        }

        /// Whether the fair waiter `waiter` is live: within its deadline (`realNow`, on the real
        /// clock) and still listening, as Redis judges it (its client subscribed to its channel).
        func isLive(_ waiter: Waiter, at realNow: ContinuousClock.Instant) -> Bool {
            waiter.aliveUntil >= realNow && wakeListeners.values.contains { $0.waiter == waiter.waiter }
        }

        /// Tells `resource`'s first fair waiter, which became first without a release naming it
        /// (the ones ahead of it left, were evicted or were handed the lock), so that it tries again now: while the
        /// lock is held with an expiry it watches that, as the Redis scripts tell it with an
        /// `S` message; while it is free it tries to take it.
        func tellFirst(_ resource: String, now: ContinuousClock.Instant) {
            guard let first = queues[ExactName(resource)]?.first?.waiter else { return }
            let hint: WakeHint
            if let entry = locks[ExactName(resource)], entry.expiresAt.map({ $0 >= now }) ?? true {
                guard let expiresAt = entry.expiresAt, expiresAt > now else { return }
                hint = .ttlShortened(resource: resource, ttl: expiresAt - now, first: first)
            } else {
                hint = .released(resource: resource, next: first)
            }
            for listener in wakeListeners.values where listener.waiter == first { listener.handler(hint) }
        }

        /// Takes `resource` for `owner`; its `locked` event names `locker` (the locker API's id as
        /// it is, as the Redis scripts publish it), else the owner's public name.
        mutating func take(
            _ resource: String, owner: String, ttl: Duration?, now: ContinuousClock.Instant, locker: String? = nil
        ) -> Int64 {
            store(Entry(owner: owner, expiresAt: ttl.map { now + $0 }), for: ExactName(resource))
            // Redis's SET replaces whatever the key held; every way in refuses a fenced value
            // under the key first, so this only keeps the table what Redis would hold.
            if !storeFences.isEmpty {
                fenced[ExactName(keyspace.lockKey(resource))] = nil
                storeFences[ExactName(keyspace.lockKey(resource))] = nil
            }
            let token = (fences[ExactName(resource)] ?? 0) + 1
            fences[ExactName(resource)] = token
            emit(.locked(resource: resource, locker: locker ?? LeaseOwner.displayName(of: owner), ttl: ttl))
            return token
        }

        /// The holder of `resource`, with its fencing token where the Redis scripts report one
        /// (acquire, lock, inspect), without it where they do not (unlock, refresh, extend).
        func holder(_ entry: Entry, _ resource: String, now: ContinuousClock.Instant, withToken: Bool = true) -> LockHolder {
            LockHolder(
                owner: entry.owner,
                remaining: entry.expiresAt.map { max(.zero, $0 - now) },
                fencingToken: withToken ? fences[ExactName(resource)] : nil
            )
        }
    }

    /// `memory`.
    public var name: String { "memory" }
    /// The clock deciding expiry.
    public let clock: any LockClock
    /// The key layout that fenced-value keys are checked against (see ``fencedWrite(key:value:fencingToken:)``).
    public let keyspace: LockKeyspace
    private let state: Mutex<State>

    /// Creates an empty backend.
    public convenience init(clock: any LockClock = SystemLockClock()) {
        self.init(clock: clock, keyspace: .standard)
    }

    /// Creates an empty backend whose fenced values share a key space with locks laid out as
    /// `keyspace` (a ``LockyConfiguration``'s prefix), as they do on Redis.
    public init(clock: any LockClock = SystemLockClock(), keyspace: LockKeyspace) {
        self.clock = clock
        self.keyspace = keyspace
        self.state = Mutex(State(keyspace: keyspace))
    }

    /// Takes every resource for `owner` or none, in one step under the lock table.
    public func acquire(_ resources: [String], owner: String, ttl: Duration?) async throws(LockError) -> AcquireReply {
        let now = clock.now
        let ttl = ttl?.roundedUpToMilliseconds
        return try withOpenTable(during: "acquire") { (state) throws(LockError) in
            for (index, resource) in resources.enumerated() {
                if let entry = state.live(resource, now: now), !ExactName.equal(entry.owner, owner) {
                    return .busy(index: index, holder: state.holder(entry, resource, now: now))
                }
            }
            // Checked after every holder, before anything is written, as the Redis script does.
            try state.checkTakeable(resources, now: now)
            return .acquired(fencingTokens: resources.map { state.take($0, owner: owner, ttl: ttl, now: now) })
        }
    }

    /// Locks each resource for `locker` where free (or always with `force`).
    public func lock(_ resources: [String], locker: String, ttl: Duration?, force: Bool) async throws(LockError) -> [LockOutcome]
    {
        let now = clock.now
        let ttl = ttl?.roundedUpToMilliseconds
        return try withOpenTable(during: "lock") { (state) throws(LockError) in
            // Before anything is written, busy or not, as the Redis script does.
            try state.checkTakeable(resources, now: now)
            return resources.map { resource in
                if let entry = state.live(resource, now: now) {
                    if ExactName.equal(entry.owner, locker) {
                        state.reset(resource, entry, ttl: ttl, now: now)
                        return .alreadyHeld(fencingToken: state.fences[ExactName(resource)] ?? 0)
                    }
                    if !force { return .busy(state.holder(entry, resource, now: now)) }
                    // Taken over with an earlier expiry than the old holder's: news for the
                    // waiter whose timer is armed at the old one, as a shortened TTL is.
                    let token = state.take(resource, owner: locker, ttl: ttl, now: now, locker: locker)
                    if let ttl, entry.expiresAt.map({ now + ttl < $0 }) ?? true { state.tellShortened(resource, ttl: ttl) }
                    return .acquired(fencingToken: token)
                }
                return .acquired(fencingToken: state.take(resource, owner: locker, ttl: ttl, now: now, locker: locker))
            }
        }
    }

    /// Resets or adds to the TTL of every resource, only if `owner` still holds them all.
    public func extend(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) async throws(LockError)
        -> ExtendReply
    {
        let now = clock.now
        let ttl = ttl.roundedUpToMilliseconds
        return try withOpenTable(during: "extend") { (state) throws(LockError) in
            for (index, resource) in resources.enumerated() {
                if state.live(resource, now: now) == nil, state.holdsFencedValue(resource) {
                    // The Redis script's GET of that key fails.
                    throw LockError(.serverError, "extend: the lock key holds a value of another type", resource: resource)
                }
                guard let entry = state.live(resource, now: now), ExactName.equal(entry.owner, owner) else {
                    let holder = state.live(resource, now: now).map { state.holder($0, resource, now: now, withToken: false) }
                    return .lost(index: index, holder: holder)
                }
            }
            for resource in resources {
                guard let entry = state.locks[ExactName(resource)] else { continue }
                switch mode {
                case .resetTo:
                    state.reset(resource, entry, ttl: ttl, now: now)
                case .addTo:
                    state.reset(resource, entry, ttl: max(entry.expiresAt ?? now, now) + ttl - now, now: now)
                }
            }
            return .extended
        }
    }

    /// Renews each item whose lock `owner` still holds.
    public func renew(_ items: [RenewalItem]) async throws(LockError) -> [RenewalResult] {
        let now = clock.now
        return try withOpenTable(during: "renew") { state in
            items.map { item in
                guard let entry = state.live(item.resource, now: now) else { return .missing }
                guard ExactName.equal(entry.owner, item.owner) else { return .heldByAnother(owner: entry.owner) }
                state.reset(item.resource, entry, ttl: item.ttl.roundedUpToMilliseconds, now: now)
                return .renewed
            }
        }
    }

    /// Removes each lock (owner-checked with `owner`), handing it to the next fair waiter if any.
    public func unlock(_ resources: [String], owner: String?) async throws(LockError) -> [UnlockOutcome] {
        let now = clock.now
        return try withOpenTable(during: "unlock") { state in
            var released: [String] = []
            let outcomes = resources.map { resource -> UnlockOutcome in
                guard let entry = state.live(resource, now: now) else { return .notLocked }
                if let owner, !ExactName.equal(entry.owner, owner) {
                    return .heldByAnother(state.holder(entry, resource, now: now, withToken: false))
                }
                state.locks[ExactName(resource)] = nil
                released.append(resource)
                return .unlocked
            }
            // In the order the Redis unlock script publishes: every `unlocked` first, those
            // without fair waiters before those with a queue, then the hand-offs' `locked`.
            let queued = released.filter { state.queues[ExactName($0)] != nil }
            let unqueued = released.filter { state.queues[ExactName($0)] == nil }
            for resource in unqueued + queued { state.emit(.unlocked(resource: resource)) }
            for resource in unqueued + queued { state.handOffOrWake(resource, now: now) }
            return outcomes
        }
    }

    /// Resets the TTL of each held lock (only `locker`'s, when given); never creates one.
    public func refresh(_ resources: [String], locker: String?, ttl: Duration?) async throws(LockError) -> [RefreshOutcome] {
        let now = clock.now
        let ttl = ttl?.roundedUpToMilliseconds
        return try withOpenTable(during: "refresh") { state in
            resources.map { resource in
                guard let entry = state.live(resource, now: now) else { return .notLocked }
                if let locker, !ExactName.equal(entry.owner, locker) {
                    return .heldByAnother(state.holder(entry, resource, now: now, withToken: false))
                }
                state.reset(resource, entry, ttl: ttl, now: now)
                return .refreshed
            }
        }
    }

    /// The holder of each resource, or nil when free.
    public func holders(_ resources: [String]) async throws(LockError) -> [LockHolder?] {
        let now = clock.now
        return try withOpenTable(during: "inspect") { state in
            resources.map { resource in
                state.live(resource, now: now).map { state.holder($0, resource, now: now) }
            }
        }
    }

    /// Every resource held now (expired ones are dropped, and reported, as they are found).
    public func lockedResources() async throws(LockError) -> [String] {
        let now = clock.now
        return try withOpenTable(during: "listing locks") { state in
            state.locks.keys.map(\.string).filter { state.live($0, now: now) != nil }
        }
    }

    /// Stores `value` if `fencingToken` is at least the highest token seen for `key`.
    ///
    /// A key that is a lock, fencing counter or fair queue of ``keyspace`` while that exists
    /// fails with `serverError`, as Redis refuses it (WRONGTYPE); a fenced value written under
    /// the lock key of a free resource takes that key, which then cannot be locked.
    public func fencedWrite(key: String, value: ByteBuffer, fencingToken: Int64) async throws(LockError) -> FencedWriteOutcome {
        let now = clock.now
        return try withOpenTable(during: "fenced write") { (state) throws(LockError) in
            try state.checkFencedKey(key, now: now, during: "fenced write")
            if let highest = state.storeFences[ExactName(key)], fencingToken < highest { return .rejected(highestToken: highest) }
            state.storeFences[ExactName(key)] = fencingToken
            state.fenced[ExactName(key)] = FencedValue(value: value, highestToken: fencingToken)
            return .accepted
        }
    }

    /// The value stored by the fencing helper, or nil.
    public func fencedRead(key: String) async throws(LockError) -> FencedValue? {
        let now = clock.now
        return try withOpenTable(during: "fenced read") { (state) throws(LockError) in
            try state.checkFencedKey(key, now: now, during: "fenced read")
            // The value with the token that wrote it, as the token-checked read answers.
            return state.fenced[ExactName(key)]
        }
    }

    /// Reads `key` if `fencingToken` is at least the highest token seen, raising the fence to it.
    public func fencedRead(key: String, fencingToken: Int64) async throws(LockError) -> FencedReadOutcome {
        let now = clock.now
        return try withOpenTable(during: "fenced read") { (state) throws(LockError) in
            try state.checkFencedKey(key, now: now, during: "fenced read")
            if let highest = state.storeFences[ExactName(key)], fencingToken < highest { return .rejected(highestToken: highest) }
            state.storeFences[ExactName(key)] = fencingToken
            // The value with the token that wrote it.
            return .read(state.fenced[ExactName(key)])
        }
    }

    /// Lock events of this process's table. With `expirations`, each lock is expired at its
    /// deadline by a timer on the clock (see ``withEventHandler(expirations:_:_:)``).
    ///
    /// After ``close()`` it throws ``LockError`` `backendUnavailable` (as a Redis subscription
    /// on a closed client does); a stream running when the backend is closed finishes.
    public func withEvents<T: Sendable>(expirations: Bool, _ body: (LockEventStream) async throws -> T) async throws -> T {
        let buffer = LockEventBuffer()
        defer { buffer.finish() }
        return try await withEventHandler(
            expirations: expirations, during: "subscribing to lock events", { buffer.yield($0) }, finish: { buffer.finish() }
        ) {
            try await body(buffer.eventStream)
        }
    }

    /// Calls `handler` synchronously, inside the change that caused the event.
    ///
    /// With `expirations`, while any handler watches them, a timer on the clock is armed at the
    /// earliest lock deadline and expires the locks due when it fires, each reported once: locks
    /// taken before the subscription and TTLs set by a refresh included, as Redis reports them
    /// through keyspace notifications. A custom ``LockClock`` cannot arm timers (only
    /// ``SystemLockClock`` and ``ManualLockClock`` can); with one, a lock expires when the table
    /// next touches it, or when the client's expiry watcher looks at a lock it saw taken.
    ///
    /// After ``close()`` it throws ``LockError`` `backendUnavailable`; when the backend is closed
    /// while `body` runs, `handler` gets no more events (as on Redis) and `body` goes on.
    public func withEventHandler<T: Sendable>(
        expirations: Bool,
        _ handler: @escaping @Sendable (LockEvent) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withEventHandler(
            expirations: expirations, during: "subscribing to lock events",
            { event in
                if case .lock(let event) = event { handler(event) }
            }, finish: nil, body)
    }

    /// Registers `handler` (and `finish`, called by ``close()``) while `body` runs; throws the
    /// closed error for `operation` after ``close()``.
    private func withEventHandler<T: Sendable>(
        expirations: Bool,
        during operation: String,
        _ handler: @escaping @Sendable (BackendEvent) -> Void,
        finish: (@Sendable () -> Void)?,
        _ body: () async throws -> T
    ) async throws -> T {
        let id = try withOpenTable(during: operation) { state in
            state.nextListener += 1
            state.listeners[state.nextListener] = handler
            state.streamFinishers[state.nextListener] = finish
            if expirations {
                if state.expiryListeners.isEmpty {
                    // The first watcher: the deadlines of the locks taken before it, too.
                    state.deadlines = Heap(
                        state.locks.compactMap { name, entry in entry.expiresAt.map { Deadline(at: $0, resource: name) } })
                    state.alarmDirty = true
                }
                state.expiryListeners.insert(state.nextListener)
            }
            return state.nextListener
        }
        defer {
            withTable { state in
                state.listeners[id] = nil
                state.streamFinishers[id] = nil
                if state.expiryListeners.remove(id) != nil, state.expiryListeners.isEmpty {
                    // Nobody watches: no timer, and no deadlines kept for it.
                    state.deadlines = Heap()
                    state.alarmDirty = true
                }
            }
        }
        return try await body()
    }

    /// The whole table as text, sorted (locks with owner and deadline, fencing counters,
    /// fenced values and fences, fair queues): for tests that check a call changed nothing,
    /// as a Redis test compares the server's keys.
    var tableSnapshot: String {
        state.withLock { state in
            func line<V>(_ kind: String, _ table: [ExactName: V], _ text: (V) -> String) -> [String] {
                table.map { "\(kind) \($0.key.string): \(text($0.value))" }
            }
            let lines =
                line("lock", state.locks) { "\($0.owner) until \($0.expiresAt.map { "\($0)" } ?? "-")" }
                + line("fence", state.fences) { "\($0)" }
                + line("fenced", state.fenced) { "\($0.string) written by \($0.highestToken)" }
                + line("store fence", state.storeFences) { "\($0)" }
                + line("queue", state.queues) { $0.map { "\($0.waiter) \($0.owner) \($0.attempt)" }.joined(separator: ", ") }
            return lines.sorted().joined(separator: "\n")
        }
    }

    /// ``withTable(_:)`` for a call that fails once the backend is closed: with the error a
    /// ``RedisLockBackend`` whose client was closed throws for `operation`, touching nothing.
    private func withOpenTable<R: Sendable>(
        during operation: String, _ body: (inout State) throws(LockError) -> R
    ) throws(LockError) -> R {
        try withTable { (state) throws(LockError) -> R in
            if state.closed { throw Self.closedError(during: operation) }
            return try body(&state)
        }
    }

    /// What every call answers after ``close()``: `backendUnavailable`, its ``LockError/underlying``
    /// error coded `closed` and never run, as a ``RedisLockBackend`` whose client was closed.
    private static func closedError(during operation: String) -> LockError {
        LockError(RedisClientError(.closed, "the backend is closed"), during: operation)
    }

    /// Runs `body` on the lock table, then moves the expiry timer if the change calls for it.
    private func withTable<R: Sendable, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        let (result, change) = try state.withLock { (state) throws(E) -> (R, AlarmChange?) in
            let result = try body(&state)
            return (result, state.takeAlarmChange())
        }
        if let change { apply(change) }
        return result
    }

    /// Cancels and arms the expiry timer, outside the table's lock.
    private func apply(_ change: AlarmChange) {
        change.cancel?.cancel()
        guard let (deadline, generation) = change.arm, let timers = clock as? any LockTimerSource else { return }
        // Just past the deadline: a lock expires once its deadline has passed.
        let timer = timers.schedule(at: deadline + .nanoseconds(1)) { [weak self] in self?.alarmFired(generation) }
        let replaced = state.withLock { state -> Bool in
            guard state.alarm?.generation == generation else { return true }
            state.alarm?.timer = timer
            return false
        }
        // Fired already, or replaced by an earlier deadline meanwhile.
        if replaced { timer.cancel() }
    }

    /// Expires the locks that are due and arms the timer for the next deadline.
    private func alarmFired(_ generation: UInt64) {
        let now = clock.now
        withTable { state in
            guard state.alarm?.generation == generation else { return }
            state.alarm = nil
            state.expireDue(now: now)
        }
    }

    /// Fair acquire; a release hands the lock to the first live waiter, as on Redis.
    public func acquireFair(
        _ resource: String, owner: String, ttl: Duration?, waiter: String, waiterTTL: Duration, attempt: Int
    ) async throws(LockError) -> FairAcquireReply {
        let now = clock.now
        // Rounded once here, so the hand-off that uses the waiter's TTL later sets it rounded too.
        let ttl = ttl?.roundedUpToMilliseconds
        let waiterTTL = waiterTTL.roundedUpToMilliseconds
        return try withOpenTable(during: "queued acquire") { (state) throws(LockError) in
            if state.live(resource, now: now) == nil, state.holdsFencedValue(resource) {
                // The Redis script's first GET of that key fails.
                throw .foreignLockValue(resource, during: "queued acquire")
            }
            let name = ExactName(resource)
            var queue = state.queues[name] ?? []
            let realNow = ContinuousClock.now
            // Waiters ahead that are not live are evicted, as on Redis: a crashed one would hold
            // a lock that expired (no release hands it over) free until its deadline lapsed.
            var evicted = false
            while let head = queue.first, head.waiter != waiter, !state.isLive(head, at: realNow) {
                queue.removeFirst()
                evicted = true
            }
            defer { if evicted, state.queues[name]?.first?.waiter != waiter { state.tellFirst(resource, now: now) } }
            let entry = state.live(resource, now: now)
            if let entry, ExactName.equal(entry.owner, owner) {
                // A release handed it over before this attempt ran.
                queue.removeAll { $0.waiter == waiter }
                state.queues[name] = queue.isEmpty ? nil : queue
                return .handedOver(
                    fencingToken: state.fences[name] ?? 0, remaining: entry.expiresAt.map { max(.zero, $0 - now) })
            }
            if entry == nil, queue.first.map({ $0.waiter == waiter }) ?? true {
                // As the Redis script's INCR, which comes before its SET.
                if state.fenceHoldsFencedValue(resource) { throw .foreignFenceValue(resource, during: "queued acquire") }
                queue.removeAll { $0.waiter == waiter }
                state.queues[name] = queue.isEmpty ? nil : queue
                return .acquired(fencingToken: state.take(resource, owner: owner, ttl: ttl, now: now))
            }
            let queued = Waiter(waiter: waiter, aliveUntil: realNow + waiterTTL, owner: owner, ttl: ttl, attempt: attempt)
            if let index = queue.firstIndex(where: { $0.waiter == waiter }) {
                queue[index] = queued
            } else {
                queue.append(queued)
            }
            state.queues[name] = queue
            return .queued(holder: entry.map { state.holder($0, resource, now: now) }, first: queue.first?.waiter == waiter)
        }
    }

    /// Removes `waiter` from the fair queue, giving back a lock handed to `owner` meanwhile.
    public func leaveQueue(_ resource: String, waiter: String, owner: String) async throws(LockError) {
        let now = clock.now
        try withOpenTable(during: "leave queue") { state in
            var queue = state.queues[ExactName(resource)] ?? []
            let wasFirst = queue.first?.waiter == waiter
            queue.removeAll { $0.waiter == waiter }
            state.queues[ExactName(resource)] = queue.isEmpty ? nil : queue
            var free = true
            var released = false
            if let entry = state.live(resource, now: now) {
                // A lock handed to this waiter meanwhile is given back, to the next waiter.
                free = ExactName.equal(entry.owner, owner)
                if free {
                    state.locks[ExactName(resource)] = nil
                    state.emit(.unlocked(resource: resource))
                    released = true
                }
            }
            // With nobody queued, a lock given back wakes the waiters that are not queued (as
            // the Redis script's `H` event does); they would sleep until the old holder's TTL.
            if released || (!queue.isEmpty && free) {
                state.handOffOrWake(resource, now: now)
            } else if wasFirst {
                // Still held by another: the waiter now first watches its expiry from now on.
                state.tellFirst(resource, now: now)
            }
        }
    }

    /// Wake-ups from this process's table, including fair hand-offs.
    public func withWakeHandler<T: Sendable>(
        waiter: String?,
        _ handler: @escaping @Sendable (WakeHint) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        let id = try state.withLock { (state) throws(LockError) in
            if state.closed { throw Self.closedError(during: "watching lock events") }
            state.nextListener += 1
            state.wakeListeners[state.nextListener] = (waiter, handler)
            return state.nextListener
        }
        defer { state.withLock { _ = $0.wakeListeners.removeValue(forKey: id) } }
        return try await body()
    }

    /// A release hands the lock to the first live queued waiter, as on Redis: waiting acquires
    /// of one resource queue after one ordinary attempt, fair or not.
    public var handsOverToWaiters: Bool { true }

    /// Closes the backend, as closing a ``RedisLockBackend``'s client does: idempotent, and final.
    ///
    /// - Every call from then on (acquire, lock, extend, renew, unlock, refresh, holders, the
    ///   fencing helpers, the fair queue, subscribing to events or wake-ups) throws
    ///   ``LockError`` `backendUnavailable` whose ``LockError/underlying`` error has the code
    ///   `closed`, and changes nothing: the locks held stay as they were (on Redis they live on
    ///   in the server until their TTLs end).
    /// - Each running ``withEvents(expirations:_:)`` stream finishes; handlers of
    ///   ``withEventHandler(expirations:_:_:)`` get no more events; the expiry timer stops.
    /// - Each wake-up handler (a waiting acquire) gets a last ``WakeHint/gap``, so the waiter
    ///   tries again at once and fails with the error above instead of sleeping on.
    public func close() async {
        let (finishers, wakeHandlers, timer) = state.withLock { state in
            guard !state.closed else { return ([@Sendable () -> Void](), [@Sendable (WakeHint) -> Void](), LockTimer?.none) }
            state.closed = true
            let finishers = Array(state.streamFinishers.values)
            let wakeHandlers = state.wakeListeners.values.map(\.handler)
            state.streamFinishers = [:]
            state.listeners = [:]
            state.expiryListeners = []
            state.wakeListeners = [:]
            state.deadlines = Heap()
            let timer = state.alarm?.timer
            state.alarm = nil
            state.alarmDirty = false
            return (finishers, wakeHandlers, timer)
        }
        timer?.cancel()
        for finish in finishers { finish() }
        for handler in wakeHandlers { handler(.gap) }
    }
}
