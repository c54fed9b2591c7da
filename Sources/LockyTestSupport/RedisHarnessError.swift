#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error of the real-Redis test harness, with a message that says what went wrong and what to do about it.
public struct RedisHarnessError: Error, Sendable, CustomStringConvertible {
    /// A human-readable explanation, including the remedy where there is one.
    public let message: String

    /// Creates an error with the given message.
    public init(_ message: String) {
        self.message = message
    }

    /// The message, so that test failures show it verbatim.
    public var description: String { message }
}

extension RedisHarnessError {
    static func notInstalled(_ tool: String) -> RedisHarnessError {
        RedisHarnessError(
            "\(tool) was not found on PATH. Install it with: scripts/setup.sh "
                + "(or: apt-get update && apt-get install -y redis-server redis-tools openssl)"
        )
    }

    static func system(_ what: String, errno code: Int32) -> RedisHarnessError {
        RedisHarnessError("\(what) failed: \(String(cString: strerror(code))) (errno \(code))")
    }
}
