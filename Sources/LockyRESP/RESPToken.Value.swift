import NIOCore

extension RESPToken {
    /// A decoded RESP value; strings are zero-copy slices of the token's bytes.
    public enum Value: Sendable, Hashable {
        /// `+`: a simple string line.
        case simpleString(ByteBuffer)
        /// `-`: a simple error line (see ``RESPToken/serverError`` for the parsed form).
        case simpleError(ByteBuffer)
        /// `:`: a signed 64-bit integer.
        case number(Int64)
        /// `$`: a binary-safe string.
        case bulkString(ByteBuffer)
        /// RESP3 `_`, and RESP2 `$-1` and `*-1`.
        case null
        /// `#t` or `#f`.
        case boolean(Bool)
        /// `,`: a double; `inf`, `-inf` and `nan` are accepted.
        case double(Double)
        /// `(`: the text of a big number (an optional sign and digits).
        case bigNumber(ByteBuffer)
        /// `!`: a binary-safe error (see ``RESPToken/serverError`` for the parsed form).
        case bulkError(ByteBuffer)
        /// `=`: the payload including the three-letter format and colon, e.g. `txt:hello`.
        case verbatimString(ByteBuffer)
        /// `*`: an array.
        case array(RESPToken.Array)
        /// `~`: a set.
        case set(RESPToken.Array)
        /// `>`: an out-of-band push.
        case push(RESPToken.Array)
        /// `%`: a map.
        case map(RESPToken.Map)
        /// `|`: an attribute map. Never returned by ``RESPToken/value``, which skips attributes;
        /// see ``RESPToken/attributes``.
        case attribute(RESPToken.Map)
    }
}
