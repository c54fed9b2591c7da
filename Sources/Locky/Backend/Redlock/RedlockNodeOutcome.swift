/// What one Redlock node answered to one operation: part of a ``LockError/Code/quorumNotReached``
/// error (every node's answer) and of the per-node failure events (see ``RedlockBackend``).
public struct RedlockNodeOutcome: Sendable, CustomStringConvertible {
    /// The node's answer.
    public enum Result: Sendable {
        /// The node did what was asked (granted the lock, extended it, …). For a read (listing
        /// the locks, a fenced read) it answered, and ``RedlockNodeOutcome/description`` says
        /// `answered`: a read grants nothing.
        case granted
        /// Another owner holds the resource on this node.
        case heldByAnother(LockHolder)
        /// The node did not have the lock (it expired, or the node restarted empty).
        case missing
        /// The node failed: unreachable, an error reply, a protocol error.
        case failed(LockError)
        /// The node did not answer within the per-node timeout.
        case timedOut
    }

    /// The node's address (`host:port` or `unix:path`); never credentials.
    public let node: String
    /// Its answer.
    public let result: Result
    /// Whether the operation was a read, whose `granted` is an answer.
    let isRead: Bool

    /// Creates an outcome.
    public init(node: String, result: Result) {
        self.init(node: node, result: result, isRead: false)
    }

    /// Creates an outcome of a read (`isRead`) or of another operation.
    init(node: String, result: Result, isRead: Bool) {
        self.node = node
        self.result = result
        self.isRead = isRead
    }

    /// Whether the node counts towards the quorum.
    public var isGranted: Bool {
        if case .granted = result { return true }
        return false
    }

    /// `node: answer`, e.g. `127.0.0.1:7001: held by worker-2 (3 s left)`; `answered` for a node
    /// that did what a read asked.
    public var description: String {
        switch result {
        case .granted: return "\(node): \(isRead ? "answered" : "granted")"
        case .heldByAnother(let holder): return "\(node): held by \(holder)"
        case .missing: return "\(node): not held"
        case .failed(let error): return "\(node): failed (\(error.code): \(error.message))"
        case .timedOut: return "\(node): timed out"
        }
    }
}
