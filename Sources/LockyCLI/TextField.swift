/// The escaping of names (resources, holders, lockers) in the tab-separated text output, so that
/// one record is always one line with its documented number of fields, whatever the names hold.
///
/// Backslash, tab, line feed and carriage return are written `\\`, `\t`, `\n` and `\r`; the
/// other C0 controls and DEL as `\xHH` (two lowercase hex digits); a name that is exactly `-`
/// as `\x2d`, because a bare `-` stands for "none" (a free resource, no fencing token).
/// Everything else, non-ASCII included, is written as it is. Empty names stay empty.
enum TextField {
    /// What a field holds when there is nothing to show.
    static let none = "-"

    /// `name` as one field of a text record.
    static func escape(_ name: String) -> String {
        if name == none { return "\\x2d" }
        // Scalars, not Characters: "\r\n" is one Character, and a control must not hide in a cluster.
        guard name.unicodeScalars.contains(where: needsEscape) else { return name }
        var escaped = ""
        escaped.reserveCapacity(name.utf8.count + 8)
        for scalar in name.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\t": escaped += "\\t"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case _ where needsEscape(scalar):
                let hex = String(scalar.value, radix: 16)
                escaped += "\\x" + (hex.count < 2 ? "0" : "") + hex
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// One record: the fields joined by tabs (names already escaped with ``escape(_:)``).
    static func record(_ fields: [String]) -> String {
        fields.joined(separator: "\t")
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\\"
    }
}
