extension ScriptedServer {
    /// What a ``ScriptedServer`` does with one request: raw bytes to write (valid RESP or not), then what to do with
    /// the connection.
    public struct Reply: Sendable {
        /// Bytes written once before the repeated ones.
        public var prefix: [UInt8]
        /// The bytes written, as they are.
        public var bytes: [UInt8]
        /// How many times ``bytes`` are written back to back; each copy is written once the previous one has been
        /// taken by the kernel, so an endless-looking stream costs the server no memory.
        public var repetitions: Int
        /// What happens to the connection afterwards.
        public var then: Then
        /// When set, the server answers like ``standard`` instead of writing ``bytes``.
        let isStandard: Bool

        /// Writes `prefix` once and `bytes` `repetitions` times, then does `then`.
        public init(prefix: [UInt8] = [], bytes: [UInt8], repetitions: Int = 1, then: Then = .keepServing) {
            self.prefix = prefix
            self.bytes = bytes
            self.repetitions = repetitions
            self.then = then
            self.isStandard = false
        }

        private init(standardThen then: Then) {
            self.prefix = []
            self.bytes = []
            self.repetitions = 1
            self.then = then
            self.isStandard = true
        }

        /// Writes the UTF-8 of `text` as it is (use `\r\n` for RESP line ends), then does `then`.
        public static func raw(_ text: String, then: Then = .keepServing) -> Reply {
            Reply(bytes: Array(text.utf8), then: then)
        }

        /// Writes `bytes` as they are, then does `then`.
        public static func raw(_ bytes: [UInt8], then: Then = .keepServing) -> Reply {
            Reply(bytes: bytes, then: then)
        }

        /// Writes `prefix` once and then `text` `times` times, then does `then`: a frame of any size, such as a line
        /// of a million digits, without building it in memory.
        public static func repeated(
            _ text: String,
            times: Int,
            after prefix: String = "",
            then: Then = .keepServing
        ) -> Reply {
            Reply(prefix: Array(prefix.utf8), bytes: Array(text.utf8), repetitions: times, then: then)
        }

        /// Writes nothing, then does `then` (by default the request goes unanswered and the connection stays open).
        public static func nothing(then: Then = .keepServing) -> Reply {
            Reply(bytes: [], repetitions: 0, then: then)
        }

        /// Answers like a well-behaved Redis 7 would for the few commands a client needs: `HELLO` (a RESP3 map for
        /// `HELLO 3`, a RESP2 array otherwise), `PING` (`+PONG`), `ECHO x` (`x` as a bulk string), and `+OK` for
        /// anything else.
        public static var standard: Reply { Reply(standardThen: .keepServing) }

        /// Answers like ``standard``, then does `then`.
        public static func standard(then: Then) -> Reply { Reply(standardThen: then) }

        /// The bytes that ``standard`` writes for `request`.
        static func standardBytes(for request: Request) -> [UInt8] {
            switch request.name {
            case "HELLO":
                let fields = ["server", "redis", "version", "7.0.15", "mode", "standalone", "role", "master"]
                let body = fields.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
                if request.arguments.count > 1, request.arguments[1] == "3" {
                    return Array("%5\r\n\(body)$5\r\nproto\r\n:3\r\n".utf8)
                }
                return Array("*10\r\n\(body)$5\r\nproto\r\n:2\r\n".utf8)
            case "PING":
                return Array("+PONG\r\n".utf8)
            case "ECHO" where request.arguments.count > 1:
                let text = request.arguments[1]
                return Array("$\(text.utf8.count)\r\n\(text)\r\n".utf8)
            default:
                return Array("+OK\r\n".utf8)
            }
        }
    }
}
