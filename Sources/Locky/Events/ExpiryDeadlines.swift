import HeapModule

/// The lock deadlines the expiry watcher knows, earliest first. Pure state: no clock, no I/O.
///
/// The watcher notes a deadline for every `locked` event and for every renewed lock it looks
/// at, and asks for the earliest one each time it wakes, so both cost O(log n): a heap, not a
/// scan of every known lock (with 20,000 locks the scan made noting them take seconds). A
/// deadline that was replaced or forgotten stays in the heap and is skipped when it comes up;
/// the heap is rebuilt when such stale entries outnumber the live ones, so locks released long
/// before their deadlines do not pile up.
struct ExpiryDeadlines {
    private struct Entry: Comparable {
        var at: ContinuousClock.Instant
        var resource: ExactName

        static func < (lhs: Entry, rhs: Entry) -> Bool { lhs.at < rhs.at }
    }

    /// Every deadline noted, stale ones included; its minimum is always current.
    private var heap = Heap<Entry>()
    /// The current deadline of each known lock.
    private var current: [ExactName: ContinuousClock.Instant] = [:]

    /// The number of locks known.
    var count: Int { current.count }

    /// The number of deadlines held, stale ones included (for tests).
    var storedCount: Int { heap.count }

    /// The earliest deadline, nil when no lock is known.
    var earliest: ContinuousClock.Instant? { heap.min?.at }

    /// Notes that `resource` expires at `deadline` (replacing what was known); returns whether
    /// it is now the earliest deadline, so the watcher must wake sooner.
    mutating func set(_ resource: String, at deadline: ContinuousClock.Instant) -> Bool {
        let name = ExactName(resource)
        let wasEarliest = earliest
        if current.updateValue(deadline, forKey: name) == deadline { return false }
        heap.insert(Entry(at: deadline, resource: name))
        dropStale()
        return wasEarliest.map { deadline < $0 } ?? true
    }

    /// The deadline known for `resource`, nil when none is.
    func deadline(of resource: String) -> ContinuousClock.Instant? {
        current[ExactName(resource)]
    }

    /// Notes that `resource` expires at `deadline`, as ``set(_:at:)``, unless what is known of
    /// it is no longer `expected` (nil: nothing): an event told of the lock meanwhile, which
    /// is newer news than an answer asked for before it.
    mutating func set(_ resource: String, at deadline: ContinuousClock.Instant, ifStill expected: ContinuousClock.Instant?)
        -> Bool
    {
        guard current[ExactName(resource)] == expected else { return false }
        return set(resource, at: deadline)
    }

    /// Forgets `resource` (it was unlocked or expired).
    mutating func remove(_ resource: String) {
        guard current.removeValue(forKey: ExactName(resource)) != nil else { return }
        dropStale()
    }

    /// Takes (and forgets) every lock whose deadline is at or before `now`.
    mutating func takeDue(at now: ContinuousClock.Instant) -> [String] {
        var due: [String] = []
        while let first = heap.min, first.at <= now {
            heap.removeMin()
            if current[first.resource] == first.at {
                current[first.resource] = nil
                due.append(first.resource.string)
            }
        }
        dropStale()
        return due
    }

    /// Keeps the heap's minimum current, and rebuilds the heap when stale entries outnumber
    /// the live ones (amortised O(1) per change).
    private mutating func dropStale() {
        while let first = heap.min, current[first.resource] != first.at { heap.removeMin() }
        if heap.count > 2 * current.count + 64 {
            heap = Heap(current.map { Entry(at: $0.value, resource: $0.key) })
        }
    }
}
