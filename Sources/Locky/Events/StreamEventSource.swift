/// Events from an `AsyncStream` (the in-memory backend).
final class StreamEventSource: LockEventSource {
    private var iterator: AsyncStream<LockEvent>.AsyncIterator

    init(_ stream: AsyncStream<LockEvent>) {
        self.iterator = stream.makeAsyncIterator()
    }

    func next() async -> LockEvent? {
        await iterator.next()
    }
}
