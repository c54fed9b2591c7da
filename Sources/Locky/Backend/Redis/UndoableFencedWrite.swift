import NIOCore

/// A Redlock node's answer to a fenced write, with what an accepted write replaced there: the
/// nodes that accepted a write the quorum rejected are told to put it back
/// (``RedisLockScripts/fencedUndo``).
struct UndoableFencedWrite: Sendable {
    /// The node's answer.
    let outcome: FencedWriteOutcome
    /// The value before the write (accepted only), nil when there was none.
    let previousValue: ByteBuffer?
    /// The token that wrote it, as stored (accepted only), nil when none.
    let previousWritten: String?
    /// False when the node did not send the value it replaced (longer than asked for): the write is then
    /// left where it was accepted, and only the fence is raised.
    var previousKnown = true
}
