/// Decides which release hints of N Redlock nodes wake waiting acquires: a release of a
/// resource wakes them once a quorum of nodes reported it with one attempt tag (and at each
/// later report of it, at most N − quorum more).
///
/// Why a quorum: a waiter that a split vote answered busy gives back its minority grant, and
/// that release publishes `U` on the few nodes it had. Woken by it, every waiter (its own
/// process's and every other's) retried at once, took the free minority again and released it
/// again, thousands of times a second for a whole hold. A minority release never reaches a
/// quorum; the holder's release does (it held a quorum), so it still wakes waiters at once.
///
/// A shortened TTL counts the same way, apart from releases and per new TTL: once a quorum of
/// nodes shortened it, the holder's Redlock lock expires then (like `RedlockEventMerger`).
///
/// Pure state, no I/O. Reports of one release arrive within milliseconds of each other; a
/// report older than ``window`` no longer counts, and a second report of one node starts a new
/// release (a locker's next cycle has the same tag).
struct RedlockWakeMerger: RedlockQuorumMerger {
    private struct Release: Hashable {
        let resource: ExactName
        let tag: String
        /// The new TTL in ms of a shortened TTL; nil for a release.
        let shortenedTo: Int64?
    }

    private struct Reports {
        var nodes: Set<Int>
        let first: ContinuousClock.Instant
    }

    /// Reports needed to wake waiters.
    let quorum: Int
    /// How long reports of one release are collected.
    let window: Duration
    private var releases: [Release: Reports] = [:]

    /// Creates a merger for `quorum` that collects reports of one change for `window`.
    init(quorum: Int, window: Duration) {
        self.quorum = quorum
        self.window = window
    }

    /// Node `node` sent `hint`, from an event with attempt tag `tag`, at `now`: returns the
    /// hint when it is to wake waiters. Gaps and hand-overs pass at once.
    mutating func receive(_ hint: WakeHint, tag: String, fromNode node: Int, at now: ContinuousClock.Instant) -> WakeHint? {
        let release: Release
        switch hint {
        case .released(let resource, _):
            release = Release(resource: ExactName(resource), tag: tag, shortenedTo: nil)
        case .ttlShortened(let resource, let ttl, _):
            release = Release(resource: ExactName(resource), tag: tag, shortenedTo: ttl.millisecondsRoundedUp)
        case .handedOver, .gap:
            return hint
        }
        guard quorum > 1 else { return hint }
        if releases.count > 4096 { prune(at: now) }
        var reports =
            releases[release].flatMap { now - $0.first < window && !$0.nodes.contains(node) ? $0 : nil }
            ?? Reports(nodes: [], first: now)
        reports.nodes.insert(node)
        releases[release] = reports
        return reports.nodes.count >= quorum ? hint : nil
    }

    /// The number of releases being collected (for tests).
    var pendingCount: Int { releases.count }

    private mutating func prune(at now: ContinuousClock.Instant) {
        releases = releases.filter { now - $0.value.first < window }
    }
}
