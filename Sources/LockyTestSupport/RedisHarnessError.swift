#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error of the real-Redis test harness, with a message that says what went wrong and what to do about it.
public struct RedisHarnessError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; extensible without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case notInstalled, system, setupFailed, startFailed, timedOut, commandFailed
        }
        fileprivate let base: Base

        /// A tool (`redis-server`, `redis-cli`, `openssl`) is not on `PATH`.
        public static var notInstalled: Code { Code(base: .notInstalled) }
        /// A system call failed (the message has its `errno`).
        public static var system: Code { Code(base: .system) }
        /// Files or directories for a server could not be prepared.
        public static var setupFailed: Code { Code(base: .setupFailed) }
        /// A server, proxy or process did not start or did not become ready.
        public static var startFailed: Code { Code(base: .startFailed) }
        /// A process did not finish in time.
        public static var timedOut: Code { Code(base: .timedOut) }
        /// A command (`redis-cli`, `openssl`) exited with an error.
        public static var commandFailed: Code { Code(base: .commandFailed) }

        /// The code's name.
        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// A human-readable explanation, including the remedy where there is one.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message, so that test failures show it verbatim.
    public var description: String { message }
}

extension RedisHarnessError {
    static func notInstalled(_ tool: String) -> RedisHarnessError {
        RedisHarnessError(
            .notInstalled,
            "\(tool) was not found on PATH. Install it with: scripts/setup.sh "
                + "(or: apt-get update && apt-get install -y redis-server redis-tools openssl)"
        )
    }

    static func system(_ what: String, errno code: Int32) -> RedisHarnessError {
        RedisHarnessError(.system, "\(what) failed: \(String(cString: strerror(code))) (errno \(code))")
    }
}
