/// Events from an `AsyncStream` (a ``LockEventBuffer``'s), for one loop.
final class StreamEventSource: LockEventSource {
    private var iterator: AsyncStream<BackendEvent>.AsyncIterator
    private let gapOwedAtEnd: GapOwedFlag
    /// Runs when the loop's iterator is gone: its buffer is handed back or dropped.
    private let onEnd: @Sendable () -> Void

    init(_ stream: AsyncStream<BackendEvent>, gapOwedAtEnd: GapOwedFlag, onEnd: @escaping @Sendable () -> Void) {
        self.iterator = stream.makeAsyncIterator()
        self.gapOwedAtEnd = gapOwedAtEnd
        self.onEnd = onEnd
    }

    deinit { onEnd() }

    /// The next event; at the end, a `gap` first if events were dropped since the last one.
    func next() async -> BackendEvent? {
        if let event = await iterator.next() { return event }
        return gapOwedAtEnd.take() ? .lock(.gap) : nil
    }
}
