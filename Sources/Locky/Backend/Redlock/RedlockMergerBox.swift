import Synchronization

/// A ``RedlockQuorumMerger`` shared by the nodes' handlers, which run on their own threads.
final class RedlockMergerBox<Merger: RedlockQuorumMerger>: Sendable {
    private let merger: Mutex<Merger>

    init(quorum: Int) { merger = Mutex(Merger(quorum: quorum)) }

    func receive(_ item: Merger.Item, tag: String, fromNode node: Int) -> Merger.Item? {
        let now = ContinuousClock.now
        return merger.withLock { $0.receive(item, tag: tag, fromNode: node, at: now) }
    }
}
