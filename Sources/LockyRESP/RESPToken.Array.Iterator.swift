import NIOCore

extension RESPToken.Array {
    /// Walks the elements of an aggregate, finding each element's end as it goes.
    public struct Iterator: IteratorProtocol, Sendable {
        private var remaining: ByteBuffer
        private var left: Int

        init(remaining: ByteBuffer, left: Int) {
            self.remaining = remaining
            self.left = left
        }

        /// Returns the next element, or nil after the last one.
        public mutating func next() -> RESPToken? {
            guard left > 0, let length = RESPFrameScanner.valueLength(in: remaining),
                let element = remaining.readSlice(length: length)
            else { return nil }
            left -= 1
            return RESPToken(validated: element)
        }
    }
}
