extension RESPParsingError {
    /// The kind of parsing error. A struct rather than an enum so that codes can be added without breaking clients.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Backing: String, Sendable, Hashable {
            case invalidTypeIdentifier
            case invalidLength
            case invalidInteger
            case invalidDouble
            case invalidBoolean
            case missingCRLF
            case depthLimitExceeded
            case bulkLengthLimitExceeded
            case aggregateCountLimitExceeded
            case lineLengthLimitExceeded
            case frameLengthLimitExceeded
            case invalidVerbatimString
        }

        private let backing: Backing

        private init(_ backing: Backing) {
            self.backing = backing
        }

        /// The first byte of a value is not a known RESP type.
        public static var invalidTypeIdentifier: Code { Code(.invalidTypeIdentifier) }
        /// A length or count is not a decimal number, is negative (other than the null `-1`), or overflows.
        public static var invalidLength: Code { Code(.invalidLength) }
        /// An integer or big number is not a valid decimal number.
        public static var invalidInteger: Code { Code(.invalidInteger) }
        /// A double is not a valid decimal number, `inf`, `-inf` or `nan`.
        public static var invalidDouble: Code { Code(.invalidDouble) }
        /// A boolean is neither `#t` nor `#f`.
        public static var invalidBoolean: Code { Code(.invalidBoolean) }
        /// A line or payload is not terminated by CRLF.
        public static var missingCRLF: Code { Code(.missingCRLF) }
        /// Aggregates are nested deeper than ``RESPLimits/maximumDepth``.
        public static var depthLimitExceeded: Code { Code(.depthLimitExceeded) }
        /// A payload is longer than ``RESPLimits/maximumBulkLength``.
        public static var bulkLengthLimitExceeded: Code { Code(.bulkLengthLimitExceeded) }
        /// An aggregate has more elements than ``RESPLimits/maximumAggregateCount``.
        public static var aggregateCountLimitExceeded: Code { Code(.aggregateCountLimitExceeded) }
        /// A line is longer than ``RESPLimits/maximumLineLength``.
        public static var lineLengthLimitExceeded: Code { Code(.lineLengthLimitExceeded) }
        /// A frame is longer than ``RESPLimits/maximumFrameLength``.
        public static var frameLengthLimitExceeded: Code { Code(.frameLengthLimitExceeded) }
        /// A verbatim string payload does not start with a three-byte format and a colon.
        public static var invalidVerbatimString: Code { Code(.invalidVerbatimString) }

        /// The name of the code, e.g. `missingCRLF`.
        public var description: String { backing.rawValue }
    }
}
