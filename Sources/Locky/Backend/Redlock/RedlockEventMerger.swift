/// Turns the lock events of N Redlock nodes into one stream: every node publishes its own
/// `locked`, `unlocked` and `expired`, and an event is passed on once, when the quorum-th node
/// reports it (that is when it is true of the Redlock lock). Gaps and errors pass at once.
///
/// Pure state, no I/O. Reports of one change arrive within milliseconds of each other; a
/// report older than ``window`` no longer counts, and passing on a change of a resource forgets
/// the reports of its other changes that began before it, so the next cycle of the same
/// resource starts afresh.
///
/// Reports are told apart by change, locker and attempt tag (``LockEventCodec/attemptTag(owner:)``):
/// two attempts of one label (`lease` when none) that each took a minority of nodes and gave
/// them back are two changes that no quorum reported, not a `locked` and an `unlocked`. (Counting
/// only each node's latest report would lose real changes instead: one node's `L` and `U` of a
/// short hold can both arrive before another node's `L`, which ``LockEventTests`` sees happen.)
///
/// A give-back's `U` carries its attempt's tag behind ``giveBackPrefix``: an attempt given
/// back before its `locked` was passed on held no quorum the stream reported, and its `L`
/// reports still to come (a node that granted after the others gave back) pass nothing.
struct RedlockEventMerger: RedlockQuorumMerger {
    /// Every event of a node's stream, the expiry watcher's news included.
    typealias Item = BackendEvent

    /// One change of a resource.
    private struct Change: Hashable {
        enum Kind: Hashable {
            case locked, unlocked, expired, shortened
            /// Not a change: the attempt `tag` was given back before its `locked` was passed on.
            case givenBack
        }
        let kind: Kind
        /// The locker of a `locked` event (two lockers may each hold a minority); the new TTL
        /// of a shortened one (the TTL asked for, the same on every node).
        let locker: String
        /// The attempt tag: one owner's reports count together, another's apart.
        let tag: String
    }

    private struct Reports {
        var nodes: Set<Int>
        let first: ContinuousClock.Instant
        var passed: Bool
    }

    /// Reports needed to pass an event on.
    let quorum: Int
    /// How long reports of one change are collected.
    let window: Duration
    /// Per resource, the changes being reported.
    private var resources: [ExactName: [Change: Reports]] = [:]

    /// Creates a merger for `quorum` that collects reports of one change for `window`.
    init(quorum: Int, window: Duration) {
        self.quorum = quorum
        self.window = window
    }

    /// What a give-back's attempt tag starts with, followed by the tag of the attempt it gives back.
    static let giveBackPrefix = "g"

    /// The attempt tag of the give-back of the attempt tagged `attempt`.
    static func giveBackTag(of attempt: String) -> String { giveBackPrefix + attempt }

    /// Node `node` reported `event` with attempt tag `tag` at `now`: returns the event when it is to be passed on.
    mutating func receive(_ event: LockEvent, tag: String, fromNode node: Int, at now: ContinuousClock.Instant) -> LockEvent? {
        guard case .lock(let event)? = receive(.lock(event), tag: tag, fromNode: node, at: now) else { return nil }
        return event
    }

    /// Node `node` reported `event` with attempt tag `tag` at `now`: returns the event when it is to be passed on.
    ///
    /// A shortened TTL counts like a change, once a quorum of nodes shortened it (each node
    /// reports it after its `locked`, so never before the `locked` is passed on), but passing
    /// it on forgets no other change: it is news of the holder's deadline, not a new holder.
    mutating func receive(_ event: BackendEvent, tag: String, fromNode node: Int, at now: ContinuousClock.Instant)
        -> BackendEvent?
    {
        let name: String
        let change: Change
        switch event {
        case .lock(.gap), .lock(.error): return event
        case .lock(.locked(let resource, let locker, _)):
            (name, change) = (resource, Change(kind: .locked, locker: locker, tag: tag))
        case .lock(.unlocked(let resource)): (name, change) = (resource, Change(kind: .unlocked, locker: "", tag: tag))
        case .lock(.expired(let resource)): (name, change) = (resource, Change(kind: .expired, locker: "", tag: ""))
        case .ttlShortened(let resource, let ttl):
            (name, change) = (resource, Change(kind: .shortened, locker: "\(ttl.millisecondsRoundedUp)", tag: tag))
        }
        if quorum <= 1 { return event }
        let resource = ExactName(name)
        if resources.count > 4096 { prune(at: now) }
        var changes = resources[resource] ?? [:]
        if change.kind == .locked, let marker = changes[Change(kind: .givenBack, locker: "", tag: tag)],
            now - marker.first < window
        {
            // A late grant of an attempt already given back (the key never was on a quorum at once).
            return nil
        }
        if change.kind == .unlocked, tag.hasPrefix(Self.giveBackPrefix) {
            let attempt = String(tag.dropFirst(Self.giveBackPrefix.count))
            let heldOn = changes.filter { $0.key.kind == .locked && $0.key.tag == attempt }
            if !heldOn.contains(where: { $0.value.passed && now - $0.value.first < window }) {
                // Given back before a quorum was reported to hold it: that attempt is no lock.
                // Forget its grants, and ignore those still to come and its other give-backs.
                for key in heldOn.keys { changes[key] = nil }
                let marker = Change(kind: .givenBack, locker: "", tag: attempt)
                if changes[marker] == nil { changes[marker] = Reports(nodes: [], first: now, passed: true) }
                resources[resource] = changes
                return nil
            }
        }
        var reports =
            changes[change].flatMap { now - $0.first < window ? $0 : nil } ?? Reports(nodes: [], first: now, passed: false)
        reports.nodes.insert(node)
        guard !reports.passed, reports.nodes.count >= quorum else {
            changes[change] = reports
            resources[resource] = changes
            return nil
        }
        reports.passed = true
        if change.kind == .shortened {
            changes[change] = reports
            resources[resource] = changes
            return event
        }
        // A new change of this resource: reports of changes that began before it are stale;
        // those that began after it are of newer changes (one node's `L` and `U` of a short
        // hold can both come before another node's `L`), still to be counted.
        changes = changes.filter { $0.key.kind == .givenBack || $0.value.first > reports.first }
        changes[change] = reports
        resources[resource] = changes
        return event
    }

    /// The number of resources with changes being collected (for tests).
    var pendingCount: Int { resources.count }

    private mutating func prune(at now: ContinuousClock.Instant) {
        resources = resources.compactMapValues { changes in
            let fresh = changes.filter { now - $0.value.first < window }
            return fresh.isEmpty ? nil : fresh
        }
    }
}
