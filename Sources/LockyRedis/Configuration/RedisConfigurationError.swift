/// A configuration or URL that cannot be used; says which part is wrong.
///
/// The message never repeats the URL's password.
public struct RedisConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The part at fault, e.g. `scheme`, `port`, `database` or `query parameter 'command_timeout'`.
    public let part: String
    /// What is wrong with it.
    public let message: String

    /// Creates an error about `part`.
    public init(part: String, message: String) {
        self.part = part
        self.message = message
    }

    /// `invalid <part>: <message>`.
    public var description: String { "invalid \(part): \(message)" }
}
