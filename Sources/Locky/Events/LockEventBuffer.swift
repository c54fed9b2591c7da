import Synchronization

/// A bounded buffer of lock events between whoever produces them and one consumer. When the
/// consumer falls behind and events are dropped, the next event that fits is preceded by
/// ``LockEvent/gap``: a loss is never silent.
final class LockEventBuffer: Sendable {
    /// Events held for a slow consumer before the buffer drops new ones.
    static let capacity = 65_536

    /// The consumer's side.
    let stream: AsyncStream<LockEvent>
    private let continuation: AsyncStream<LockEvent>.Continuation
    /// Whether events were dropped since the last `gap` got through.
    private let dropping = Mutex(false)

    init(capacity: Int = LockEventBuffer.capacity) {
        (stream, continuation) = AsyncStream.makeStream(of: LockEvent.self, bufferingPolicy: .bufferingOldest(capacity))
    }

    /// Hands `event` on, or drops it (and later says so) when the buffer is full.
    func yield(_ event: LockEvent) {
        dropping.withLock { dropping in
            if dropping {
                guard case .enqueued = continuation.yield(.gap) else { return }
                dropping = false
            }
            if case .dropped = continuation.yield(event) { dropping = true }
        }
    }

    /// Ends the stream.
    func finish() { continuation.finish() }

    /// The stream as a ``LockEventStream``.
    var eventStream: LockEventStream {
        let stream = self.stream
        return LockEventStream { StreamEventSource(stream) }
    }
}
