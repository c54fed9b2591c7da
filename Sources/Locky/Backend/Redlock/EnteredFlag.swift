import Synchronization

/// Set once a node's first subscription attempt settled (later ones join with a gap).
final class EnteredFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func mark() { flag.store(true, ordering: .relaxed) }
    var isMarked: Bool { flag.load(ordering: .relaxed) }
}
