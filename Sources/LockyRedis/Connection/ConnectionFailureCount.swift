import NIOCore

/// Counts consecutive failed connection attempts, for the reconnect backoff. A connection
/// dropped right after its handshake (a proxy in front of a dead server) counts as one more
/// failure, so reconnects back off instead of storming; one that lived longer starts afresh
/// (a restarted server is found again at once).
struct ConnectionFailureCount {
    /// A connection closed sooner than this after its handshake counts as a failed attempt.
    static let shortLived = TimeAmount.milliseconds(200)

    private var connectedAt = NIODeadline.now()
    private var failuresBefore = 0

    /// A connection was made after `failures` failed attempts.
    mutating func connected(after failures: Int) {
        connectedAt = .now()
        failuresBefore = failures
    }

    /// The failures to count once the connection closed: 0 after a lived connection, else one
    /// more than before it.
    var afterClose: Int {
        NIODeadline.now() - connectedAt < Self.shortLived ? failuresBefore + 1 : 0
    }
}
