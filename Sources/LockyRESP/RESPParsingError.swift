/// Wire-level error: the bytes are not valid RESP or exceed a limit. The connection must be reset.
public struct RESPParsingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public let code: Code
    /// Offset of the offending byte from the start of the frame.
    public let offset: Int

    /// Creates an error for the byte at `offset` from the start of the frame.
    public init(code: Code, offset: Int) {
        self.code = code
        self.offset = offset
    }

    /// A readable rendering, e.g. `RESP parsing error: missingCRLF at offset 7`.
    public var description: String {
        "RESP parsing error: \(code) at offset \(offset)"
    }
}
