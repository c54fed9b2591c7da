import NIOCore

extension RESPToken {
    /// Lazy, zero-copy view over the entries of a map (or of an attribute).
    public struct Map: Sequence, Sendable, Hashable {
        /// A key and its value, each a token of its own.
        public typealias Element = (key: RESPToken, value: RESPToken)

        /// The number of entries (key/value pairs).
        public let count: Int
        /// The bytes of all keys and values, alternating, back to back.
        let elements: ByteBuffer

        init(count: Int, elements: ByteBuffer) {
            self.count = count
            self.elements = elements
        }

        /// The number of entries.
        public var underestimatedCount: Int { count }

        /// Returns an iterator that walks the entries in order.
        public func makeIterator() -> Iterator {
            // Saturating: a parsed map's element count was already checked not to overflow.
            let (elementCount, overflow) = count.multipliedReportingOverflow(by: 2)
            return Iterator(elements: RESPToken.Array(count: overflow ? .max : elementCount, elements: elements).makeIterator())
        }
    }
}
