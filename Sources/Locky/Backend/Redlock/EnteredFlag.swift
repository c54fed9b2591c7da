import Synchronization

/// Set once a subscription's body started (so its errors are not mistaken for the subscription's).
final class EnteredFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func mark() { flag.store(true, ordering: .relaxed) }
    var isMarked: Bool { flag.load(ordering: .relaxed) }
}
