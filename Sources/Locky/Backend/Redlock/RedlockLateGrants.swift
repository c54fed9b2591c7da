import Synchronization

/// The fencing tokens a Redlock acquire (or locker lock) handed out, for the nodes it did not
/// wait for: a grant of theirs that comes later with a lower token (its counter lagged, e.g.
/// after a restart without persistence), or a busy answer, is raised to them, as the nodes
/// that answered in time are (``RedlockBackend``). A late reply can come before the call has
/// decided (between the quorum's replies and its decision); it waits here until then.
final class RedlockLateGrants: Sendable {
    private struct State {
        var decided = false
        /// The tokens handed out, one per resource; nil when the call handed out none.
        var tokens: [Int64]?
        /// Replies that came before the decision: the node, and its token per resource (nil
        /// where it issued none).
        var early: [(node: Int, tokens: [Int64?])] = []
    }

    private let state = Mutex(State())

    /// Node `node` answered late with `tokens` (nil for a resource it did not grant): the
    /// tokens to raise it to, or nil when it needs no raise or the call has not decided yet.
    func arrived(node: Int, tokens: [Int64?]) -> [Int64]? {
        state.withLock { state in
            guard state.decided else {
                state.early.append((node, tokens))
                return nil
            }
            guard let handedOut = state.tokens, Self.lags(tokens, behind: handedOut) else { return nil }
            return handedOut
        }
    }

    /// The call handed out `tokens` (nil: none); returns the nodes that answered before this
    /// and must be raised to them.
    func decide(_ tokens: [Int64]?) -> [Int] {
        state.withLock { state in
            state.decided = true
            state.tokens = tokens
            defer { state.early = [] }
            guard let tokens else { return [] }
            return state.early.filter { Self.lags($0.tokens, behind: tokens) }.map(\.node)
        }
    }

    /// Whether a node that issued `issued` knows less than `handedOut` for some resource.
    private static func lags(_ issued: [Int64?], behind handedOut: [Int64]) -> Bool {
        handedOut.indices.contains { index in
            guard issued.indices.contains(index), let token = issued[index] else { return true }
            return token < handedOut[index]
        }
    }
}
