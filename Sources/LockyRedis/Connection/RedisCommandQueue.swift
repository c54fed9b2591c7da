import DequeModule
import NIOCore

/// The FIFO of commands written to one connection and waiting for their replies.
///
/// Pure state, no I/O: the channel handler feeds it replies, cancellations and the clock, and
/// acts on what it returns. Generic over the reply sink so tests can drive it with plain values.
/// Replies are matched strictly in order; a cancelled command keeps its place (its late reply
/// is consumed and dropped), so cancelling one caller never shifts the replies of others.
struct RedisCommandQueue<Sink> {
    /// When a caller stops waiting for its reply, and after how long (for the error message).
    typealias WaitLimit = (until: NIODeadline, amount: TimeAmount)

    struct Entry {
        let id: UInt64
        /// nil once the caller gave up (cancelled): the reply is still consumed, then dropped.
        var sink: Sink?
        let deadline: NIODeadline
        /// When the caller stops waiting (the reply wait limit, for the error message too),
        /// keeping the connection; nil for none.
        let waitLimit: WaitLimit?
    }

    private(set) var entries: Deque<Entry> = []

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }

    /// Adds a command; `id` identifies it for ``cancel(_:)``.
    mutating func append(id: UInt64, sink: Sink?, deadline: NIODeadline, waitLimit: WaitLimit? = nil) {
        entries.append(Entry(id: id, sink: sink, deadline: deadline, waitLimit: waitLimit))
    }

    /// The next reply arrived: returns the entry it answers (its sink is nil if cancelled),
    /// or nil when no command was waiting (the server sent an unsolicited reply).
    mutating func receive() -> Entry? {
        entries.popFirst()
    }

    /// The caller of `id` gave up waiting: returns its sink so it can be failed at once.
    mutating func cancel(_ id: UInt64) -> Sink? {
        guard let index = entries.firstIndex(where: { $0.id == id }) else { return nil }
        let sink = entries[index].sink
        entries[index].sink = nil
        return sink
    }

    /// The earliest deadline that matters: the head's. Replies come in order, so nothing behind
    /// the head can be answered before it; a later entry with an earlier deadline is checked
    /// when it becomes the head.
    var nextDeadline: NIODeadline? { entries.first?.deadline }

    /// Whether the head has waited past its deadline at `now`.
    func isHeadExpired(at now: NIODeadline) -> Bool {
        guard let head = entries.first else { return false }
        return head.deadline <= now
    }

    /// The callers whose wait limit passed at `now` stop waiting: returns their sinks with their
    /// limits, in order. Their entries keep their places, as with ``cancel(_:)``.
    mutating func expireWaits(at now: NIODeadline) -> [(sink: Sink, limit: TimeAmount)] {
        var expired: [(sink: Sink, limit: TimeAmount)] = []
        for index in entries.indices {
            guard let limit = entries[index].waitLimit, limit.until <= now, let sink = entries[index].sink else { continue }
            expired.append((sink, limit.amount))
            entries[index].sink = nil
        }
        return expired
    }

    /// The earliest wait limit of a caller still waiting. Unlike deadlines, any entry's counts:
    /// callers stop waiting out of order (limits differ), and the connection stays.
    var nextWaitLimit: NIODeadline? {
        var earliest: NIODeadline?
        for entry in entries where entry.sink != nil {
            if let limit = entry.waitLimit?.until, earliest.map({ limit < $0 }) ?? true { earliest = limit }
        }
        return earliest
    }

    /// Removes every entry (the connection is gone); returns them in order.
    mutating func removeAll() -> Deque<Entry> {
        let all = entries
        entries.removeAll()
        return all
    }
}
