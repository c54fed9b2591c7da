extension RESPToken.Literal {
    /// One entry of a map or attribute literal (a struct because tuples cannot be Hashable).
    public struct Pair: Sendable, Hashable {
        /// The entry's key.
        public var key: RESPToken.Literal
        /// The entry's value.
        public var value: RESPToken.Literal

        /// Creates an entry.
        public init(_ key: RESPToken.Literal, _ value: RESPToken.Literal) {
            self.key = key
            self.value = value
        }
    }
}
