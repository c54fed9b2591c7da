/// The reply had another shape than the caller expected.
public struct RESPDecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What the caller expected, e.g. `integer`.
    public let expected: String
    /// The type of the token received (nil if unknown).
    public let actual: RESPTypeIdentifier?
    /// Set when the token was an error reply.
    public let serverError: RedisServerError?

    /// Creates an error from its parts.
    public init(expected: String, actual: RESPTypeIdentifier?, serverError: RedisServerError?) {
        self.expected = expected
        self.actual = actual
        self.serverError = serverError
    }

    /// Creates the error for `token` not being what was `expected`.
    public init(expected: String, token: RESPToken) {
        self.init(expected: expected, actual: token.typeIdentifier, serverError: token.serverError)
    }

    /// A readable rendering, e.g. `expected integer, got simpleError (WRONGTYPE …)`.
    public var description: String {
        let received = actual.map { "\($0)" } ?? "unknown"
        if let serverError {
            return "expected \(expected), got \(received): \(serverError)"
        }
        return "expected \(expected), got \(received)"
    }
}
