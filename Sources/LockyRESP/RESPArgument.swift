import NIOCore

/// Something that renders as one RESP bulk string argument of a command.
public protocol RESPArgument: Sendable {
    /// Appends `$len\r\n`, the bytes and `\r\n` to `buffer`.
    func writeRESPBulkString(into buffer: inout ByteBuffer)
}
