import NIOCore

extension ByteBuffer {
    /// Writes `bytes` as one RESP bulk string: `$len\r\n`, the bytes, `\r\n`.
    @discardableResult
    public mutating func writeRESPBulkString(_ bytes: some Collection<UInt8>) -> Int {
        let start = writerIndex
        writeRESPBulkHeader(length: bytes.count)
        writeBytes(bytes)
        writeStaticString("\r\n")
        return writerIndex - start
    }

    /// Writes the readable bytes of `bytes` as one RESP bulk string, without going through a byte collection.
    @discardableResult
    public mutating func writeRESPBulkString(_ bytes: ByteBuffer) -> Int {
        let start = writerIndex
        writeRESPBulkHeader(length: bytes.readableBytes)
        writeImmutableBuffer(bytes)
        writeStaticString("\r\n")
        return writerIndex - start
    }

    /// Writes the UTF-8 of `string` as one RESP bulk string (one reserved write, not five).
    @discardableResult
    public mutating func writeRESPBulkString(_ string: String) -> Int {
        writeRESPBulkString(length: string.utf8.count) { $0.write(string) }
    }

    /// Writes the UTF-8 of `string` as one RESP bulk string.
    @discardableResult
    public mutating func writeRESPBulkString(_ string: Substring) -> Int {
        let start = writerIndex
        writeRESPBulkHeader(length: string.utf8.count)
        writeSubstring(string)
        writeStaticString("\r\n")
        return writerIndex - start
    }

    /// Writes the UTF-8 of `parts`, back to back, as one RESP bulk string (a key made of a
    /// prefix, a name and a suffix), without building the whole as a String first: header,
    /// parts and `\r\n` in one write, a third of the time of building the String and writing it.
    @discardableResult
    public mutating func writeRESPBulkString(concatenating parts: [String]) -> Int {
        var length = 0
        for part in parts { length += part.utf8.count }
        return writeRESPBulkString(length: length) { writer in
            for part in parts { writer.write(part) }
        }
    }

    /// Writes one RESP bulk string of exactly `length` bytes, which `fill` writes in place
    /// (header, content and `\r\n` in one reserved write). Traps if `fill` writes another length.
    @discardableResult
    package mutating func writeRESPBulkString(length: Int, _ fill: (inout RESPBulkStringWriter) -> Void) -> Int {
        let digits = RESPASCII.decimalDigitCount(UInt64(length))
        let start = 1 + digits + 2
        let total = start + length + 2
        return writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            out[0] = RESPTypeIdentifier.bulkString.rawValue
            Self.fillDecimal(UInt64(length), endingAt: digits, in: out)
            out[digits + 1] = RESPASCII.cr
            out[digits + 2] = RESPASCII.lf
            var writer = RESPBulkStringWriter(UnsafeMutableRawBufferPointer(rebasing: out[start..<(start + length)]))
            fill(&writer)
            precondition(writer.written == length, "bulk string shorter than announced")
            out[start + length] = RESPASCII.cr
            out[start + length + 1] = RESPASCII.lf
            return total
        }
    }

    /// Writes `$len\r\n`.
    mutating func writeRESPBulkHeader(length: Int) {
        writeInteger(RESPTypeIdentifier.bulkString.rawValue)
        writeRESPDecimal(Int64(length))
        writeStaticString("\r\n")
    }

    /// Writes the decimal digits of `value` straight into the buffer, without building a String.
    mutating func writeRESPDecimal(_ value: Int64) {
        writeRESPDecimal(magnitude: value.magnitude, negative: value < 0)
    }

    /// Writes the decimal digits of `value`, with a leading `-` when `negative`.
    mutating func writeRESPDecimal(magnitude: UInt64, negative: Bool = false) {
        let total = RESPASCII.decimalDigitCount(magnitude) + (negative ? 1 : 0)
        writeWithUnsafeMutableBytes(minimumWritableBytes: total) { pointer in
            Self.fillDecimal(magnitude, endingAt: total - 1, in: pointer)
            if negative { pointer[0] = RESPASCII.minus }
            return total
        }
    }

    /// Writes the decimal digits of `value` so that the last one lands at `last`.
    static func fillDecimal(_ value: UInt64, endingAt last: Int, in out: UnsafeMutableRawBufferPointer) {
        // Digits come out least significant first, so fill from the end.
        var rest = value
        var index = last
        repeat {
            out[index] = RESPASCII.zero + UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
            index -= 1
        } while rest != 0
    }

    /// Writes `value` as Redis formats numbers: integral values without a fraction, otherwise the shortest
    /// text that round-trips, and `inf`, `-inf`, `nan`.
    mutating func writeRESPDouble(_ value: Double) {
        if let integral = Self.exactInteger(value) {
            writeRESPDecimal(integral)
        } else {
            writeString(Self.respText(value))
        }
    }

    /// The integer equal to `value` when it is integral and exactly representable (|v| ≤ 2^53).
    static func exactInteger(_ value: Double) -> Int64? {
        guard value.isFinite, value.rounded(.towardZero) == value, value.magnitude <= 9_007_199_254_740_992 else {
            return nil
        }
        return Int64(value)
    }

    /// The text of a non-integral double: Swift's shortest round-trip form, with Redis' names for non-finite values.
    static func respText(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return value.description
    }
}
