import Synchronization

/// Set once, never cleared: a node's first subscription attempt settled (later ones join with
/// a gap); a wake handler's body started.
final class EnteredFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func mark() { flag.store(true, ordering: .relaxed) }
    var isMarked: Bool { flag.load(ordering: .relaxed) }
}
