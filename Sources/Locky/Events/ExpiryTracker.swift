import Synchronization

/// Makes expiry events timely. Redis deletes an expired key lazily (an `expired` event can come
/// 100 ms or more after the deadline); any access after the deadline expires it at once. The
/// tracker remembers the deadline of each lock it saw taken and looks at it then: a lock that
/// is gone is expired on the spot (and notified); one that was renewed is looked at again at
/// its new deadline.
final class ExpiryTracker: Sendable {
    private let deadlines = Mutex(ExpiryDeadlines())
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

    /// Looks at locks at their deadlines until the task is cancelled.
    func run() async {
        while !Task.isCancelled {
            let now = clock.now
            let (due, next) = deadlines.withLock { deadlines in (deadlines.takeDue(at: now), deadlines.earliest) }
            if due.isEmpty {
                // A millisecond past the deadline, so the server sees it as passed too.
                if await wake.wait(until: next.map { $0 + .milliseconds(1) }, clock: clock) == .cancelled { return }
                continue
            }
            for start in stride(from: 0, to: due.count, by: RenewalScheduler.batchSize) {
                let chunk = Array(due[start..<min(start + RenewalScheduler.batchSize, due.count)])
                guard let holders = try? await backend.holders(chunk) else { continue }
                for (resource, holder) in zip(chunk, holders) {
                    if let remaining = holder?.remaining { track(resource, ttl: remaining) }
                }
            }
        }
    }
}
