/// Hard limits applied while parsing, so that a broken or hostile server can neither make the
/// client recurse without end nor make it buffer gigabytes.
public struct RESPLimits: Sendable, Hashable {
    /// Maximum aggregate nesting; a top-level array of scalars has depth 1.
    public var maximumDepth: Int
    /// Maximum payload length of a bulk string, bulk error or verbatim string.
    public var maximumBulkLength: Int
    /// Maximum number of elements of one array, set or push, or of entries of one map or attribute.
    public var maximumAggregateCount: Int
    /// Maximum length of a line (simple string, simple error, number, header) before its CRLF.
    public var maximumLineLength: Int
    /// Maximum length of a whole frame, all its elements included: what one reply may make the client buffer.
    /// The other limits bound each part, but a million parts of 64 MiB each would still be 64 TiB.
    public var maximumFrameLength: Int

    /// Creates limits; every value defaults to a generous bound suitable for a Redis client.
    public init(
        maximumDepth: Int = 32,
        maximumBulkLength: Int = 64 << 20,
        maximumAggregateCount: Int = 1 << 20,
        maximumLineLength: Int = 64 << 10,
        maximumFrameLength: Int = 512 << 20
    ) {
        self.maximumDepth = maximumDepth
        self.maximumBulkLength = maximumBulkLength
        self.maximumAggregateCount = maximumAggregateCount
        self.maximumLineLength = maximumLineLength
        self.maximumFrameLength = maximumFrameLength
    }

    /// The default limits: depth 32, 64 MiB bulk payloads, 1 Mi elements, 64 KiB lines, 512 MiB frames.
    public static var `default`: RESPLimits { RESPLimits() }

    /// No limits at all: only for re-walking bytes that were already validated under real limits.
    static var unlimited: RESPLimits {
        RESPLimits(
            maximumDepth: .max,
            maximumBulkLength: .max,
            maximumAggregateCount: .max,
            maximumLineLength: .max,
            maximumFrameLength: .max
        )
    }
}
