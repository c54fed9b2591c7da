import NIOCore

extension RESPToken: CustomStringConvertible {
    /// Payload bytes shown per string: replies may hold large or secret data that does not belong in logs.
    private static let shownBytes = 64
    /// Elements shown per aggregate, so that a huge reply renders in bounded time.
    private static let shownElements = 32

    /// A readable debug rendering, e.g. `["OK", (integer) 1]`, showing at most 64 bytes of any payload.
    public var description: String {
        var output = ""
        render(into: &output)
        return output
    }

    private func render(into output: inout String) {
        switch value {
        case .simpleString(let bytes):
            output += Self.quoted(bytes)
        case .simpleError(let bytes), .bulkError(let bytes):
            output += "(error) " + Self.quoted(bytes)
        case .number(let value):
            output += "(integer) \(value)"
        case .bulkString(let bytes):
            output += Self.quoted(bytes)
        case .null:
            output += "(nil)"
        case .boolean(let value):
            output += "(boolean) \(value)"
        case .double(let value):
            output += "(double) \(value)"
        case .bigNumber(let bytes):
            output += "(big number) " + Self.truncated(bytes)
        case .verbatimString(let bytes):
            output += "(verbatim) " + Self.quoted(bytes)
        case .array(let elements):
            Self.render(elements, open: "[", into: &output)
        case .set(let elements):
            Self.render(elements, open: "(set) [", into: &output)
        case .push(let elements):
            Self.render(elements, open: "(push) [", into: &output)
        case .map(let entries), .attribute(let entries):
            output += "{"
            for (index, entry) in entries.prefix(Self.shownElements).enumerated() {
                if index > 0 { output += ", " }
                entry.key.render(into: &output)
                output += ": "
                entry.value.render(into: &output)
            }
            if entries.count > Self.shownElements { output += ", … \(entries.count) entries" }
            output += "}"
        }
    }

    private static func render(_ elements: RESPToken.Array, open: String, into output: inout String) {
        output += open
        for (index, element) in elements.prefix(shownElements).enumerated() {
            if index > 0 { output += ", " }
            element.render(into: &output)
        }
        if elements.count > shownElements { output += ", … \(elements.count) elements" }
        output += "]"
    }

    private static func truncated(_ bytes: ByteBuffer) -> String {
        String(decoding: bytes.readableBytesView.prefix(shownBytes), as: UTF8.self)
    }

    private static func quoted(_ bytes: ByteBuffer) -> String {
        let shown = truncated(bytes).debugDescription
        return bytes.readableBytes > shownBytes ? "\(shown)… (\(bytes.readableBytes) bytes)" : shown
    }
}
