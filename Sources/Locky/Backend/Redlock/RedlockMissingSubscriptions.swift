import Synchronization

/// The nodes whose wake subscription is missing (the first attempt failed or had not been
/// confirmed when the wait started, and it has not joined yet), shared by a Redlock wait's
/// subscription tasks.
///
/// While one is missing, a release may reach fewer than a quorum of the subscribed nodes (the
/// holder's quorum need not include the subscribed ones), so quorum-merged wake-ups may never
/// come: ``RedlockBackend`` then wakes its waiters at a bounded cadence instead.
final class RedlockMissingSubscriptions: Sendable {
    private let nodes = Mutex<Set<Int>>([])

    /// Node `index` could not be subscribed.
    func missing(_ index: Int) { nodes.withLock { _ = $0.insert(index) } }

    /// Node `index` is subscribed now.
    func joined(_ index: Int) { nodes.withLock { _ = $0.remove(index) } }

    /// Whether any node's subscription is missing.
    var any: Bool { nodes.withLock { !$0.isEmpty } }
}
