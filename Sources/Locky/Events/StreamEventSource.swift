/// Events from an `AsyncStream` (a ``LockEventBuffer``'s), for one loop.
final class StreamEventSource: LockEventSource {
    private var stream: AsyncStream<BackendEvent>
    private var iterator: AsyncStream<BackendEvent>.AsyncIterator
    private let gapOwedAtEnd: GapOwedFlag
    /// The stream that took over from the one read when that ended (a loop before was
    /// cancelled, see ``LockEventBuffer``); nil when there is none.
    private let following: @Sendable () -> AsyncStream<BackendEvent>?
    /// Runs when the loop's iterator is gone, with the stream it read: its buffer is handed
    /// back or dropped.
    private let onEnd: @Sendable (AsyncStream<BackendEvent>) -> Void

    init(
        _ stream: AsyncStream<BackendEvent>, gapOwedAtEnd: GapOwedFlag,
        following: @escaping @Sendable () -> AsyncStream<BackendEvent>?,
        onEnd: @escaping @Sendable (AsyncStream<BackendEvent>) -> Void
    ) {
        self.stream = stream
        self.iterator = stream.makeAsyncIterator()
        self.gapOwedAtEnd = gapOwedAtEnd
        self.following = following
        self.onEnd = onEnd
    }

    deinit { onEnd(stream) }

    /// The next event; at the end, a `gap` first if events were dropped since the last one.
    func next() async -> BackendEvent? {
        while true {
            if let event = await iterator.next() { return event }
            // A cancelled loop ends here (going on would end the next stream too).
            guard !Task.isCancelled, let next = following() else { break }
            stream = next
            iterator = next.makeAsyncIterator()
        }
        return gapOwedAtEnd.take() ? .lock(.gap) : nil
    }
}
