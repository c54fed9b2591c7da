/// Lock events as an `AsyncSequence`; valid inside the scope that handed it out.
///
/// Loops over one stream in several tasks at once each see every event (from the scope's start
/// for the first loop, from its own start for the others); a loop started after another ended
/// goes on where that one stopped.
public struct LockEventStream: AsyncSequence, Sendable {
    /// The element type.
    public typealias Element = LockEvent

    private let makeSource: @Sendable () -> any LockEventSource

    init(_ makeSource: @escaping @Sendable () -> any LockEventSource) {
        self.makeSource = makeSource
    }

    /// A loop of its own over every event, the expiry watcher's news included.
    func makeBackendEventSource() -> any LockEventSource {
        makeSource()
    }

    /// Creates an iterator: a loop of its own over the events.
    public func makeAsyncIterator() -> Iterator {
        Iterator(source: makeSource())
    }

    /// Iterates the events; ends when the scope ends.
    public struct Iterator: AsyncIteratorProtocol {
        let source: any LockEventSource

        /// The next event, or nil when the stream ended.
        public mutating func next() async -> LockEvent? {
            // News for the expiry watcher alone is skipped (``BackendEvent``).
            while let event = await source.next() {
                if case .lock(let event) = event { return event }
            }
            return nil
        }
    }
}
