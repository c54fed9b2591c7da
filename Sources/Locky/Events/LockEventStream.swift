/// Lock events as an `AsyncSequence`; valid inside the scope that handed it out.
public struct LockEventStream: AsyncSequence, Sendable {
    /// The element type.
    public typealias Element = LockEvent

    private let makeSource: @Sendable () -> any LockEventSource

    init(_ makeSource: @escaping @Sendable () -> any LockEventSource) {
        self.makeSource = makeSource
    }

    /// Creates the iterator (one per stream).
    public func makeAsyncIterator() -> Iterator {
        Iterator(source: makeSource())
    }

    /// Iterates the events; ends when the scope ends.
    public struct Iterator: AsyncIteratorProtocol {
        let source: any LockEventSource

        /// The next event, or nil when the stream ended.
        public mutating func next() async -> LockEvent? {
            await source.next()
        }
    }
}
