import NIOCore

extension RESPToken {
    /// A value to encode as a RESP frame, for tests and fake servers (not a hot path).
    public indirect enum Literal: Sendable, Hashable {
        /// `+text`
        case simpleString(String)
        /// `-text`
        case simpleError(String)
        /// `:n`
        case number(Int64)
        /// `$len` and the UTF-8 of the text.
        case bulkString(String)
        /// `$len` and the bytes.
        case bulkBytes([UInt8])
        /// RESP3 `_`.
        case null
        /// RESP2 `$-1`.
        case nullBulkString
        /// RESP2 `*-1`.
        case nullArray
        /// `#t` or `#f`.
        case boolean(Bool)
        /// `,` and the double, formatted like Redis (`1.5`, `inf`, `-inf`, `nan`).
        case double(Double)
        /// `(` and the digits.
        case bigNumber(String)
        /// `!len` and the UTF-8 of the text.
        case bulkError(String)
        /// `=len` and the full payload, e.g. `txt:hi`.
        case verbatimString(String)
        /// `*count` and the elements.
        case array([Literal])
        /// `~count` and the elements.
        case set([Literal])
        /// `>count` and the elements.
        case push([Literal])
        /// `%count` and the entries.
        case map([Pair])
        /// `|count` and the entries, then the value they annotate.
        case attribute([Pair], Literal)

        /// Appends the encoded frame to `buffer`.
        func write(into buffer: inout ByteBuffer) {
            switch self {
            case .simpleString(let text):
                writeLine(.simpleString, text, into: &buffer)
            case .simpleError(let text):
                writeLine(.simpleError, text, into: &buffer)
            case .number(let value):
                buffer.writeInteger(RESPTypeIdentifier.integer.rawValue)
                buffer.writeRESPDecimal(value)
                buffer.writeStaticString("\r\n")
            case .bulkString(let text):
                buffer.writeRESPBulkString(text.utf8)
            case .bulkBytes(let bytes):
                buffer.writeRESPBulkString(bytes)
            case .null:
                buffer.writeStaticString("_\r\n")
            case .nullBulkString:
                buffer.writeStaticString("$-1\r\n")
            case .nullArray:
                buffer.writeStaticString("*-1\r\n")
            case .boolean(let value):
                buffer.writeStaticString(value ? "#t\r\n" : "#f\r\n")
            case .double(let value):
                buffer.writeInteger(RESPTypeIdentifier.double.rawValue)
                buffer.writeRESPDouble(value)
                buffer.writeStaticString("\r\n")
            case .bigNumber(let digits):
                writeLine(.bigNumber, digits, into: &buffer)
            case .bulkError(let text):
                writeBulk(.bulkError, text, into: &buffer)
            case .verbatimString(let text):
                writeBulk(.verbatimString, text, into: &buffer)
            case .array(let elements):
                writeAggregate(.array, elements, into: &buffer)
            case .set(let elements):
                writeAggregate(.set, elements, into: &buffer)
            case .push(let elements):
                writeAggregate(.push, elements, into: &buffer)
            case .map(let pairs):
                writePairs(.map, pairs, into: &buffer)
            case .attribute(let pairs, let value):
                writePairs(.attribute, pairs, into: &buffer)
                value.write(into: &buffer)
            }
        }

        private func writeLine(_ type: RESPTypeIdentifier, _ text: String, into buffer: inout ByteBuffer) {
            buffer.writeInteger(type.rawValue)
            buffer.writeString(text)
            buffer.writeStaticString("\r\n")
        }

        private func writeBulk(_ type: RESPTypeIdentifier, _ text: String, into buffer: inout ByteBuffer) {
            buffer.writeInteger(type.rawValue)
            buffer.writeRESPDecimal(Int64(text.utf8.count))
            buffer.writeStaticString("\r\n")
            buffer.writeString(text)
            buffer.writeStaticString("\r\n")
        }

        private func writeAggregate(_ type: RESPTypeIdentifier, _ elements: [Literal], into buffer: inout ByteBuffer) {
            buffer.writeInteger(type.rawValue)
            buffer.writeRESPDecimal(Int64(elements.count))
            buffer.writeStaticString("\r\n")
            for element in elements {
                element.write(into: &buffer)
            }
        }

        private func writePairs(_ type: RESPTypeIdentifier, _ pairs: [Pair], into buffer: inout ByteBuffer) {
            buffer.writeInteger(type.rawValue)
            buffer.writeRESPDecimal(Int64(pairs.count))
            buffer.writeStaticString("\r\n")
            for pair in pairs {
                pair.key.write(into: &buffer)
                pair.value.write(into: &buffer)
            }
        }
    }
}
