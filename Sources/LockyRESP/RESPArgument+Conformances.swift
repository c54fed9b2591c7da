import NIOCore

extension String: RESPArgument {
    /// Writes the UTF-8 of the string.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPBulkString(self)
    }
}

extension Substring: RESPArgument {
    /// Writes the UTF-8 of the substring.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPBulkString(self)
    }
}

extension ByteBuffer: RESPArgument {
    /// Writes the readable bytes.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPBulkString(self)
    }
}

extension Array: RESPArgument where Element == UInt8 {
    /// Writes the bytes.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPBulkString(self)
    }
}

extension Int: RESPArgument {
    /// Writes the decimal digits, without allocating a String.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        Int64(self).writeRESPBulkString(into: &buffer)
    }
}

extension Int64: RESPArgument {
    /// Writes the decimal digits, without allocating a String.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        let value = Int(self)
        buffer.writeRESPBulkString(length: RESPBulkStringWriter.decimalLength(value)) { $0.write(decimal: value) }
    }
}

extension UInt64: RESPArgument {
    /// Writes the decimal digits, without allocating a String.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeRESPBulkHeader(length: RESPASCII.decimalDigitCount(self))
        buffer.writeRESPDecimal(magnitude: self)
        buffer.writeStaticString("\r\n")
    }
}

extension Double: RESPArgument {
    /// Writes the number as Redis formats it: `3` for integral values, else the shortest text that round-trips
    /// (`1.5`, `1e+20`), and `inf`, `-inf`, `nan`.
    public func writeRESPBulkString(into buffer: inout ByteBuffer) {
        if let integral = ByteBuffer.exactInteger(self) {
            integral.writeRESPBulkString(into: &buffer)
        } else {
            buffer.writeRESPBulkString(ByteBuffer.respText(self))
        }
    }
}
