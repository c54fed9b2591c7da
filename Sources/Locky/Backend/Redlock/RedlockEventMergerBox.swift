import Synchronization

/// A ``RedlockEventMerger`` shared by the nodes' event handlers.
final class RedlockEventMergerBox: Sendable {
    private let merger: Mutex<RedlockEventMerger>

    init(quorum: Int) { merger = Mutex(RedlockEventMerger(quorum: quorum)) }

    func receive(_ event: LockEvent, tag: String, fromNode node: Int) -> LockEvent? {
        let now = ContinuousClock.now
        return merger.withLock { $0.receive(event, tag: tag, fromNode: node, at: now) }
    }
}
