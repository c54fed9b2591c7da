import Synchronization

/// When a Redlock wait may start: once a quorum of nodes confirmed their first wake
/// subscription, or every node's first attempt ended. Shared by the wait and its nodes'
/// subscription tasks.
///
/// Why not wait for all: a stopped node (connections open, nothing answered) leaves its
/// subscription unconfirmed until the node timeout, and the wait's first attempt, which needs
/// only a quorum, came that much later. The nodes still pending at the start count as missing
/// (degraded wake-ups) until they confirm; the start and each node's settling are decided
/// under one lock, so a node is either settled before the start or late, never both.
final class RedlockSubscriptionStart: Sendable {
    private struct State {
        var pending: Set<Int>
        var confirmed = 0
        var started = false
    }

    private let state: Mutex<State>
    private let enough: Int

    /// A start for `nodes` nodes that needs `enough` confirmations (or every node settled).
    init(nodes: Int, enough: Int) {
        state = Mutex(State(pending: Set(0..<nodes)))
        self.enough = enough
    }

    /// Node `index`'s first attempt ended, `confirmed` or failed: true when the wait had
    /// started without it (it was counted missing then).
    func settle(_ index: Int, confirmed: Bool) -> Bool {
        state.withLock { state in
            state.pending.remove(index)
            if state.started { return true }
            if confirmed { state.confirmed += 1 }
            return false
        }
    }

    /// Whether enough nodes confirmed, or none is pending any more.
    var isReady: Bool {
        state.withLock { $0.confirmed >= enough || $0.pending.isEmpty }
    }

    /// Marks the start; `late` gets each node still pending, under the lock (before that
    /// node's ``settle(_:confirmed:)`` can answer that it came late).
    func start(late: (Int) -> Void) {
        state.withLock { state in
            state.started = true
            for index in state.pending.sorted() { late(index) }
        }
    }
}
