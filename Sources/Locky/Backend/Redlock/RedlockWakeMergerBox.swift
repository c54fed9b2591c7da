import Synchronization

/// A ``RedlockWakeMerger`` shared by the nodes' wake-up handlers.
final class RedlockWakeMergerBox: Sendable {
    private let merger: Mutex<RedlockWakeMerger>

    init(quorum: Int) { merger = Mutex(RedlockWakeMerger(quorum: quorum)) }

    func receive(_ hint: WakeHint, tag: String, fromNode node: Int) -> WakeHint? {
        let now = ContinuousClock.now
        return merger.withLock { $0.receive(hint, tag: tag, fromNode: node, at: now) }
    }
}
