import NIOCore

/// The type byte and first line of an already-validated value, as offsets from the buffer's reader index.
struct RESPHeader {
    let type: RESPTypeIdentifier
    /// Offset of the first byte after the type byte.
    let lineStart: Int
    /// Offset of the CR that ends the line.
    let lineEnd: Int

    /// Offset of the first byte after the line's CRLF: a bulk payload or the first element of an aggregate.
    var payloadOffset: Int { lineEnd + 2 }

    init?(_ buffer: ByteBuffer) {
        let found: (RESPTypeIdentifier, Int)? = buffer.withUnsafeReadableBytes { bytes in
            guard let first = bytes.first, let type = RESPTypeIdentifier(rawValue: first),
                let cr = bytes.dropFirst().firstIndex(of: RESPASCII.cr)
            else { return nil }
            return (type, cr)
        }
        guard let (type, cr) = found else { return nil }
        self.type = type
        self.lineStart = 1
        self.lineEnd = cr
    }

    /// The line's content (without type byte and CRLF), as a slice of `buffer`.
    func line(in buffer: ByteBuffer) -> ByteBuffer {
        buffer.getSlice(at: buffer.readerIndex + lineStart, length: lineEnd - lineStart) ?? ByteBuffer()
    }

    /// The line's content read as a decimal integer (an integer value, a length or a count).
    func integer(in buffer: ByteBuffer) -> Int64? {
        buffer.withUnsafeReadableBytes { bytes in
            guard lineEnd <= bytes.count else { return nil }
            return RESPASCII.parseInt64(bytes, lineStart..<lineEnd)
        }
    }
}
