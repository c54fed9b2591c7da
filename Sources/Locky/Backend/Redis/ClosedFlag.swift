import Synchronization

/// Set by a backend's `close()`, never cleared; a class, so every copy of the backend shares it.
/// Checked before anything is sent: a backend over a client it does not own refuses once closed,
/// while the client stays open for its owner.
final class ClosedFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    /// Marks the backend closed.
    func close() { flag.store(true, ordering: .sequentiallyConsistent) }

    /// Whether ``close()`` was called.
    var isClosed: Bool { flag.load(ordering: .sequentiallyConsistent) }
}
