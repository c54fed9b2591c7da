/// Finds a comma right before a closing `}` or `]`: JSON allows none, but Foundation's
/// JSONSerialization accepts it, so `{"ttl": "30s",}` passed here and failed in jq or any other
/// strict parser reading the same LOCKY_CONFIG.
enum JSONTrailingCommaFinder {
    /// The byte offset (from 0, as JSONSerialization's "around character N") of the first
    /// trailing comma in `json`, which must otherwise be valid JSON; nil when there is none.
    static func firstTrailingComma(in json: String) -> Int? {
        let bytes = Array(json.utf8)
        var lastSignificant: (byte: UInt8, offset: Int)?
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                // Skip the string, escapes included: commas and brackets inside it are text.
                var end = index + 1
                while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                lastSignificant = (byte, index)
                index = end + 1
                continue
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if let last = lastSignificant, last.byte == UInt8(ascii: ",") { return last.offset }
                lastSignificant = (byte, index)
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                break
            default:
                lastSignificant = (byte, index)
            }
            index += 1
        }
        return nil
    }
}
