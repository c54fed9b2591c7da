/// Events from an `AsyncStream` (a ``LockEventBuffer``'s), for one loop.
final class StreamEventSource: LockEventSource {
    private var iterator: AsyncStream<BackendEvent>.AsyncIterator
    /// Runs when the loop's iterator is gone: its buffer is handed back or dropped.
    private let onEnd: @Sendable () -> Void

    init(_ stream: AsyncStream<BackendEvent>, onEnd: @escaping @Sendable () -> Void) {
        self.iterator = stream.makeAsyncIterator()
        self.onEnd = onEnd
    }

    deinit { onEnd() }

    func next() async -> BackendEvent? {
        await iterator.next()
    }
}
