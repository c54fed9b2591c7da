import LockyRESP

/// An error from the Redis client: transport, protocol, or a server error reply.
///
/// Codes are extensible static members, so new ones can be added without breaking callers that
/// switch over the ones they know. ``mayHaveRun`` tells whether a command that failed may
/// nevertheless have been executed by the server, which matters for anything that is not
/// idempotent (such as acquiring a lock).
public struct RedisClientError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case serverError
            case timeout
            case cancelled
            case connectionLost
            case connectionFailed
            case unavailable
            case authenticationFailed
            case protocolError
            case unexpectedReply
            case tlsFailure
            case closed
            case invalidArgument
            case configurationRejected
        }
        fileprivate let base: Base

        /// The server answered with an error reply; see ``RedisClientError/serverError``.
        public static var serverError: Code { Code(base: .serverError) }
        /// No reply came within the command deadline; the connection was retired.
        public static var timeout: Code { Code(base: .timeout) }
        /// The calling task was cancelled while waiting for the reply or for the connection; the
        /// command keeps its place and is still sent (``RedisClientError/mayHaveRun`` set).
        public static var cancelled: Code { Code(base: .cancelled) }
        /// The connection broke while the command was in flight.
        public static var connectionLost: Code { Code(base: .connectionLost) }
        /// Connecting (TCP, TLS or the handshake) failed.
        public static var connectionFailed: Code { Code(base: .connectionFailed) }
        /// The client is backing off after failed connection attempts; nothing was sent.
        public static var unavailable: Code { Code(base: .unavailable) }
        /// The server refused the credentials (`WRONGPASS`, `NOAUTH`, `NOPERM` during the handshake).
        public static var authenticationFailed: Code { Code(base: .authenticationFailed) }
        /// The server sent bytes that are not valid RESP, or exceeded a parsing limit.
        public static var protocolError: Code { Code(base: .protocolError) }
        /// The reply had another shape than expected.
        public static var unexpectedReply: Code { Code(base: .unexpectedReply) }
        /// The TLS configuration could not be loaded or the TLS handshake failed.
        public static var tlsFailure: Code { Code(base: .tlsFailure) }
        /// The client was closed.
        public static var closed: Code { Code(base: .closed) }
        /// An argument was rejected before anything was sent.
        public static var invalidArgument: Code { Code(base: .invalidArgument) }
        /// The server refused a setting of the connection during the handshake: the database
        /// index (`SELECT`: the server has fewer databases). Retrying will not help: the
        /// configuration must change.
        public static var configurationRejected: Code { Code(base: .configurationRejected) }

        /// The code's name, e.g. `timeout`.
        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// A human-readable explanation; never contains passwords or command arguments.
    public let message: String
    /// The server's error reply, when ``code`` is ``Code/serverError`` or ``Code/authenticationFailed``.
    public let serverError: RedisServerError?
    /// Whether the command may have been executed by the server despite the error.
    ///
    /// `false` means it certainly was not sent (or was refused); `true` means it was written to
    /// the connection and its outcome is unknown.
    public let mayHaveRun: Bool
    /// The error that caused this one, if any (an I/O or TLS error, say).
    public let underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(
        _ code: Code,
        _ message: String,
        serverError: RedisServerError? = nil,
        mayHaveRun: Bool = false,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.serverError = serverError
        self.mayHaveRun = mayHaveRun
        self.underlying = underlying
    }

    /// What stands behind this error: for ``Code/unavailable`` (the client backs off after failed
    /// connection attempts) the last attempt's error, so a refusal that retrying will not heal
    /// (``Code/authenticationFailed``, ``Code/configurationRejected``) is recognised either way;
    /// otherwise this error.
    public var connectionCause: RedisClientError {
        guard code == .unavailable, let attempt = underlying as? RedisClientError else { return self }
        return attempt
    }

    /// Wraps a server error reply.
    ///
    /// The server received the command and refused it. (A Lua script that fails at run time keeps
    /// the writes it made before the error; Locky's scripts check everything before writing.)
    public static func server(_ error: RedisServerError) -> RedisClientError {
        RedisClientError(.serverError, error.description, serverError: error)
    }

    /// `code: message`, then the underlying error where the message does not already say it.
    public var description: String {
        guard let underlying, let cause = Self.cause(underlying, of: message) else { return "\(code): \(message)" }
        return "\(code): \(message) (\(cause))"
    }

    /// How `underlying` reads after a message that may already quote it: nil when the message
    /// holds its text, only its code when the message holds a client error's message, else in
    /// full. Most messages quote their cause; printing it once more nested the same text two or
    /// three times in a line ("cannot connect …: Connection refused (… Connection refused (…))").
    package static func cause(_ underlying: any Error, of message: String) -> String? {
        if let error = underlying as? RedisClientError {
            return message.contains(error.message) ? "\(error.code)" : error.description
        }
        let text = String(describing: underlying)
        return message.contains(text) ? nil : text
    }
}
