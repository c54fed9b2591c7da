extension RESPToken.Map {
    /// Walks the entries of a map, pairing consecutive elements.
    public struct Iterator: IteratorProtocol, Sendable {
        private var elements: RESPToken.Array.Iterator

        init(elements: RESPToken.Array.Iterator) {
            self.elements = elements
        }

        /// Returns the next entry, or nil after the last one.
        public mutating func next() -> (key: RESPToken, value: RESPToken)? {
            guard let key = elements.next(), let value = elements.next() else { return nil }
            return (key, value)
        }
    }
}
