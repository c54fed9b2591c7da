import NIOCore

/// Fills the bytes of one bulk string in place, for arguments assembled from many parts (the
/// lock keys of a batch, a lock event naming every key): one bounds check and copy per part,
/// no String built on the way.
///
/// Only valid inside the closure of ``RESPCommand/appendBulkString(length:_:)``, which reserves
/// exactly the announced length: it never escapes that closure (its bytes belong to the
/// command's buffer), and writing past the length, or stopping short of it, is a trap rather
/// than a malformed command.
package struct RESPBulkStringWriter {
    private let bytes: UnsafeMutableRawBufferPointer
    /// How many bytes have been written so far.
    package private(set) var written = 0

    init(_ bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    /// Writes the UTF-8 of `text`.
    package mutating func write(_ text: String) {
        var text = text
        // Native strings are contiguous UTF-8 already: this copies nothing but the bytes.
        text.withUTF8 { utf8 in
            precondition(written + utf8.count <= bytes.count, "bulk string longer than announced")
            UnsafeMutableRawBufferPointer(rebasing: bytes[written..<(written + utf8.count)])
                .copyMemory(from: UnsafeRawBufferPointer(utf8))
            written += utf8.count
        }
    }

    /// Writes one byte.
    package mutating func write(byte: UInt8) {
        precondition(written < bytes.count, "bulk string longer than announced")
        bytes[written] = byte
        written += 1
    }

    /// Writes the decimal digits of `value`.
    package mutating func write(decimal value: Int) {
        let magnitude = UInt64(value.magnitude)
        if value < 0 { write(byte: RESPASCII.minus) }
        let digits = RESPASCII.decimalDigitCount(magnitude)
        precondition(written + digits <= bytes.count, "bulk string longer than announced")
        ByteBuffer.fillDecimal(magnitude, endingAt: written + digits - 1, in: bytes)
        written += digits
    }

    /// The bytes `write(decimal:)` takes for `value`.
    package static func decimalLength(_ value: Int) -> Int {
        RESPASCII.decimalDigitCount(UInt64(value.magnitude)) + (value < 0 ? 1 : 0)
    }
}
