import Synchronization

/// Makes expiry events timely. Redis deletes an expired key lazily (an `expired` event can come
/// 100 ms or more after the deadline); any access after the deadline expires it at once. The
/// tracker remembers the deadline of each lock it saw taken, and of each lock the backend held
/// when the watch started or after a gap, and looks at it then: a lock that is gone is expired
/// on the spot (and notified); one that was renewed is looked at again at its new deadline.
///
/// A look or a listing that fails (a lost connection, a server that is busy) is tried again
/// after a short pause, doubling up to ``maximumRetryDelay``: dropping it lost those deadlines
/// until the next gap, and their expiries came only when Redis got to them.
final class ExpiryTracker: Sendable {
    /// The pause before the first retry of a failed look or listing.
    static let firstRetryDelay: Duration = .milliseconds(20)
    /// The longest pause between retries.
    static let maximumRetryDelay: Duration = .seconds(1)

    private struct Retry {
        /// Failed looks or listings in a row.
        var failures = 0
        /// When the listing that failed is tried again; nil when none is pending.
        var discoveryAt: ContinuousClock.Instant?

        /// The pause before the next retry, after `failures` failures in a row.
        var delay: Duration {
            // 20 ms × 2⁶ is past the maximum already; the cap keeps the shift small.
            let doublings = min(max(failures - 1, 0), 6)
            return min(ExpiryTracker.firstRetryDelay * (1 << doublings), ExpiryTracker.maximumRetryDelay)
        }
    }

    private let deadlines = Mutex(ExpiryDeadlines())
    /// Whether the locks the backend holds should be listed again: at the start, and after a
    /// gap (locks taken while events may have been missed were never seen taken).
    private let discoveryDue = Mutex(true)
    private let retry = Mutex(Retry())
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
            let now = clock.now
            let retryDiscovery = retry.withLock { retry in
                guard let at = retry.discoveryAt, at <= now else { return false }
                retry.discoveryAt = nil
                return true
            }
            if discoveryDue.withLock({ due in
                defer { due = false }; return due
            }) || retryDiscovery {
                await discover()
            }
            let (due, next) = deadlines.withLock { deadlines in (deadlines.takeDue(at: clock.now), deadlines.earliest) }
            if due.isEmpty {
                // A millisecond past the deadline, so the server sees it as passed too.
                var wakeAt = next.map { $0 + .milliseconds(1) }
                if let discoveryAt = retry.withLock({ $0.discoveryAt }) {
                    wakeAt = min(wakeAt ?? discoveryAt, discoveryAt)
                }
                if await wake.wait(until: wakeAt, clock: clock) == .cancelled { return }
                continue
            }
            await look(at: due)
        }
    }

    /// Learns the deadlines of the locks taken before the watch started or during a gap: every
    /// lock the backend lists (SCAN), with its remaining TTL. A backend that cannot list its
    /// locks leaves them to the server's own, later, expiry; one that failed to is asked again.
    private func discover() async {
        let resources: [String]
        do {
            resources = try await backend.lockedResources()
        } catch {
            // `invalidArgument`: the backend has no listing (it would never succeed).
            guard error.code != .invalidArgument else { return }
            let at = clock.now + failed()
            retry.withLock { $0.discoveryAt = at }
            return
        }
        succeeded()
        retry.withLock { $0.discoveryAt = nil }
        await look(at: resources)
    }

    /// Asks for the holders of `resources`, in batches: an access after the deadline makes
    /// Redis expire a key (and notify) at once; one still held is looked at again at its new
    /// deadline. A batch whose call failed is looked at again after a pause. Either only
    /// where no event told of the lock while the call was on its way.
    private func look(at resources: [String]) async {
        for start in stride(from: 0, to: resources.count, by: RenewalScheduler.batchSize) {
            let chunk = Array(resources[start..<min(start + RenewalScheduler.batchSize, resources.count)])
            // What was known when asking: the answer travels on another connection than the
            // events, so an event can overtake it. One that told of a lock meanwhile (it was
            // re-taken, or its TTL shortened) is newer news than the answer, which used to
            // replace it: the new lock was then looked at only at the old one's deadline, and
            // its expiry came whenever Redis got to the key.
            let asked = deadlines.withLock { deadlines in chunk.map { deadlines.deadline(of: $0) } }
            let holders: [LockHolder?]
            do {
                holders = try await backend.holders(chunk)
            } catch {
                let at = clock.now + failed()
                note(chunk.indices.map { (chunk[$0], asked[$0].map { min($0, at) } ?? at, asked[$0]) })
                continue
            }
            succeeded()
            let now = clock.now
            note(
                zip(chunk.indices, holders).compactMap { index, holder in
                    holder?.remaining.map { (chunk[index], now + $0, asked[index]) }
                })
        }
    }

    /// Notes each lock's deadline where nothing was learned of it since `asked`.
    private func note(_ found: [(resource: String, at: ContinuousClock.Instant, asked: ContinuousClock.Instant?)]) {
        let earlier = deadlines.withLock { deadlines in
            var earlier = false
            for item in found where deadlines.set(item.resource, at: item.at, ifStill: item.asked) { earlier = true }
            return earlier
        }
        if earlier { wake.fire() }
    }

    /// Counts a failure; returns the pause before its retry.
    private func failed() -> Duration {
        retry.withLock { retry in
            retry.failures += 1
            return retry.delay
        }
    }

    /// Resets the back-off.
    private func succeeded() {
        retry.withLock { $0.failures = 0 }
    }
}
