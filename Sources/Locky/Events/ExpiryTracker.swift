import Synchronization

/// Makes expiry events timely. Redis deletes an expired key lazily (an `expired` event can come
/// 100 ms or more after the deadline); any access after the deadline expires it at once. The
/// tracker remembers the deadline of each lock it saw taken, and of each lock the backend held
/// when the watch started or after a gap, and looks at it then: a lock that is gone is expired
/// on the spot (and notified); one that was renewed is looked at again at its new deadline.
final class ExpiryTracker: Sendable {
    private let deadlines = Mutex(ExpiryDeadlines())
    /// Whether the locks the backend holds should be listed again: at the start, and after a
    /// gap (locks taken while events may have been missed were never seen taken).
    private let discoveryDue = Mutex(true)
    private let wake = WakeSignal()
    private let backend: any LockBackend
    private let clock: any LockClock

    init(backend: any LockBackend, clock: any LockClock) {
        self.backend = backend
        self.clock = clock
    }

    /// Remembers that `resource` expires `ttl` from now.
    func track(_ resource: String, ttl: Duration) {
        let deadline = clock.now + ttl
        if deadlines.withLock({ $0.set(resource, at: deadline) }) { wake.fire() }
    }

    /// The number of locks whose deadlines are known (for tests).
    var count: Int { deadlines.withLock { $0.count } }

    /// Forgets `resource` (it was unlocked or expired).
    func forget(_ resource: String) {
        deadlines.withLock { $0.remove(resource) }
    }

    /// Lists the backend's locks again (after a gap), from ``run()``.
    func rediscover() {
        discoveryDue.withLock { $0 = true }
        wake.fire()
    }

    /// Looks at locks at their deadlines until the task is cancelled.
    func run() async {
        while !Task.isCancelled {
            if discoveryDue.withLock({ due in
                defer { due = false }; return due
            }) {
                await discover()
            }
            let now = clock.now
            let (due, next) = deadlines.withLock { deadlines in (deadlines.takeDue(at: now), deadlines.earliest) }
            if due.isEmpty {
                // A millisecond past the deadline, so the server sees it as passed too.
                if await wake.wait(until: next.map { $0 + .milliseconds(1) }, clock: clock) == .cancelled { return }
                continue
            }
            await look(at: due)
        }
    }

    /// Learns the deadlines of the locks taken before the watch started or during a gap: every
    /// lock the backend lists (SCAN), with its remaining TTL. Best effort: a backend that cannot
    /// list its locks, or fails to, leaves them to the server's own, later, expiry.
    private func discover() async {
        guard let resources = try? await backend.lockedResources() else { return }
        await look(at: resources)
    }

    /// Asks for the holders of `resources`, in batches: an access after the deadline makes
    /// Redis expire a key (and notify) at once; one still held is looked at again at its new
    /// deadline.
    private func look(at resources: [String]) async {
        for start in stride(from: 0, to: resources.count, by: RenewalScheduler.batchSize) {
            let chunk = Array(resources[start..<min(start + RenewalScheduler.batchSize, resources.count)])
            guard let holders = try? await backend.holders(chunk) else { continue }
            for (resource, holder) in zip(chunk, holders) {
                if let remaining = holder?.remaining { track(resource, ttl: remaining) }
            }
        }
    }
}
