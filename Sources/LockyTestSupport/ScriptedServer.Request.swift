extension ScriptedServer {
    /// One command a client sent to a ``ScriptedServer``.
    public struct Request: Sendable, CustomStringConvertible {
        /// Which connection it came on: 1 for the first accepted, 2 for the next, and so on.
        public let connection: Int
        /// Its position on that connection, from 0; handshake commands count.
        public let index: Int
        /// The command and its arguments (bulk strings decoded as UTF-8).
        public let arguments: [String]

        /// Creates a request.
        public init(connection: Int, index: Int, arguments: [String]) {
            self.connection = connection
            self.index = index
            self.arguments = arguments
        }

        /// The command name in upper case, e.g. `PING`.
        public var name: String { arguments.first?.uppercased() ?? "" }

        /// Whether this is part of a client's connection handshake (`HELLO`, `AUTH`, `SELECT`, `CLIENT SETNAME`).
        public var isHandshake: Bool {
            switch name {
            case "HELLO", "AUTH", "SELECT": true
            case "CLIENT": arguments.count > 1 && arguments[1].uppercased() == "SETNAME"
            default: false
            }
        }

        /// `#connection.index NAME args…`, for test failure messages.
        public var description: String { "#\(connection).\(index) \(arguments.joined(separator: " "))" }
    }
}
