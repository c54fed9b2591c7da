import NIOCore

extension RESPToken {
    /// Lazy, zero-copy view over the elements of an aggregate (array, set or push).
    ///
    /// Each element is a token of its own; attributes that precede an element are part of its bytes and are
    /// skipped by its ``RESPToken/value``.
    public struct Array: Sequence, Sendable, Hashable {
        /// The number of elements.
        public let count: Int
        /// The bytes of all elements, back to back.
        let elements: ByteBuffer

        init(count: Int, elements: ByteBuffer) {
            self.count = count
            self.elements = elements
        }

        /// The number of elements.
        public var underestimatedCount: Int { count }

        /// Returns an iterator that walks the elements in order.
        public func makeIterator() -> Iterator {
            Iterator(remaining: elements, left: count)
        }
    }
}
