import Synchronization

/// Whether a finished event buffer still owes its loop a `gap`: set once when the stream ends
/// with events dropped and no room left to say so, taken once by the loop after the last event.
final class GapOwedFlag: Sendable {
    private let owed = Atomic<Bool>(false)

    func set() {
        owed.store(true, ordering: .releasing)
    }

    /// Whether the gap is owed; true at most once.
    func take() -> Bool {
        owed.exchange(false, ordering: .acquiringAndReleasing)
    }
}
