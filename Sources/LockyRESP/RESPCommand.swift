import NIOCore

/// A Redis command: an array of bulk strings, encoded once when built.
public struct RESPCommand: Sendable, Hashable, CustomStringConvertible {
    /// The command name, for logs and traces (arguments are never logged: they may hold passwords).
    public let name: String
    /// Number of bulk strings, the name included.
    public private(set) var count: Int
    /// The encoded bulk strings (name included), without the array header.
    public private(set) var arguments: ByteBuffer

    /// Creates a command with no arguments, e.g. `RESPCommand("PING")`.
    public init(_ name: String) {
        self.name = name
        self.count = 1
        var arguments = ByteBuffer()
        arguments.writeRESPBulkString(name)
        self.arguments = arguments
    }

    /// Creates a command with arguments, e.g. `RESPCommand("SET", key, token, "PX", 30_000)`.
    public init<each Argument: RESPArgument>(_ name: String, _ arguments: repeat each Argument) {
        self.init(name)
        repeat append(each arguments)
    }

    /// Makes room for `bytes` more bytes of arguments, so appending them allocates once.
    public mutating func reserveCapacity(_ bytes: Int) {
        arguments.reserveCapacity(arguments.readableBytes + bytes)
    }

    /// Appends one argument.
    public mutating func append(_ argument: some RESPArgument) {
        argument.writeRESPBulkString(into: &arguments)
        count += 1
    }

    /// Appends one argument made of `parts` back to back (a key: prefix, `{`, name, `}`),
    /// without building it as a String first.
    public mutating func append(concatenating parts: String...) {
        arguments.writeRESPBulkString(concatenating: parts)
        count += 1
    }

    /// Appends one argument of exactly `length` bytes that `fill` writes in place (see
    /// ``RESPBulkStringWriter``): for arguments made of many parts, such as a lock event.
    package mutating func appendBulkString(length: Int, _ fill: (inout RESPBulkStringWriter) -> Void) {
        arguments.writeRESPBulkString(length: length, fill)
        count += 1
    }

    /// Appends every argument of a sequence, in order.
    public mutating func append<S: Sequence>(contentsOf arguments: S) where S.Element: RESPArgument {
        for argument in arguments {
            append(argument)
        }
    }

    /// Writes `*count\r\n` and the arguments into `buffer`; many commands into one buffer make one pipeline write.
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(RESPTypeIdentifier.array.rawValue)
        buffer.writeRESPDecimal(Int64(count))
        buffer.writeStaticString("\r\n")
        buffer.writeImmutableBuffer(arguments)
    }

    /// Writes several commands back to back into `buffer`, as one pipeline.
    public static func write(_ commands: some Sequence<RESPCommand>, into buffer: inout ByteBuffer) {
        for command in commands {
            command.write(into: &buffer)
        }
    }

    /// The command name only, e.g. `EVALSHA`: arguments are never printed (they may hold passwords).
    public var description: String { name }
}
