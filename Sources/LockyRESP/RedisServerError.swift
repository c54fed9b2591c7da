/// A server error reply parsed into a code and a message.
///
/// Match on ``code``, never on the message text.
public struct RedisServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The error code, the first word of the reply (``Code/err`` when the reply has none).
    public let code: Code
    /// The rest of the line after the code (without the leading space).
    public let message: String

    /// Creates an error from its parts.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// Parses the text of an error reply (without the `-` and CRLF), e.g. `NOSCRIPT No matching script.`
    ///
    /// The code is the first space-delimited word when it is entirely upper-case ASCII letters, digits or
    /// underscores; otherwise the code is ``Code/err`` and the message is the whole text.
    public init(parsing text: String) {
        let word = text.utf8.prefix { $0 != UInt8(ascii: " ") }
        let isCode =
            !word.isEmpty
            && word.allSatisfy { byte in
                (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
            }
        guard isCode else {
            self.init(code: .err, message: text)
            return
        }
        let rest = text.utf8[word.endIndex...].dropFirst()
        self.init(code: Code(rawValue: String(Substring(word))), message: String(Substring(rest)))
    }

    /// For `MOVED` and `ASK`: the hash slot and the `host:port` to retry at, e.g. `MOVED 3999 127.0.0.1:6381`.
    public var redirection: (slot: Int, address: String)? {
        guard code == .moved || code == .ask else { return nil }
        let parts = message.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, let slot = Int(parts[0]), slot >= 0 else { return nil }
        return (slot, String(parts[1]))
    }

    /// `CODE message`, as the server sent it.
    public var description: String {
        message.isEmpty ? code.rawValue : "\(code.rawValue) \(message)"
    }
}
