/// RESP type bytes: the first byte of every RESP2 and RESP3 value.
public enum RESPTypeIdentifier: UInt8, Sendable {
    /// `+`: a simple string line.
    case simpleString = 43
    /// `-`: a simple error line.
    case simpleError = 45
    /// `:`: a signed 64-bit integer.
    case integer = 58
    /// `$`: a length-prefixed binary string (RESP2 `$-1` is null).
    case bulkString = 36
    /// `*`: an array (RESP2 `*-1` is null).
    case array = 42
    /// `_`: the RESP3 null.
    case null = 95
    /// `#`: a RESP3 boolean, `#t` or `#f`.
    case boolean = 35
    /// `,`: a RESP3 double.
    case double = 44
    /// `(`: a RESP3 big number.
    case bigNumber = 40
    /// `!`: a RESP3 length-prefixed error.
    case bulkError = 33
    /// `=`: a RESP3 verbatim string, `fmt:payload`.
    case verbatimString = 61
    /// `%`: a RESP3 map of key/value pairs.
    case map = 37
    /// `|`: a RESP3 attribute map that precedes a value.
    case attribute = 124
    /// `~`: a RESP3 set.
    case set = 126
    /// `>`: a RESP3 out-of-band push.
    case push = 62
}
