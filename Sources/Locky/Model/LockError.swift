import LockyRESP
import LockyRedis

/// What went wrong with a lock operation. Each failure has its own code, so callers never have
/// to guess whether "someone holds it", "Redis is down", "timed out" or "cancelled".
public struct LockError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; extensible without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case busy, timedOut, cancelled, notOwner, alreadyExpired, invalidArgument, backendUnavailable, serverError
            case lockLost, quorumNotReached, authenticationFailed
        }
        fileprivate let base: Base

        /// Another owner holds (one of) the resource(s); see ``LockError/holder``.
        public static var busy: Code { Code(base: .busy) }
        /// Waiting for the lock took longer than allowed; or an extend was confirmed only after
        /// the lease's validity had passed (the keys were extended, the lease is no longer valid).
        public static var timedOut: Code { Code(base: .timedOut) }
        /// The calling task was cancelled.
        public static var cancelled: Code { Code(base: .cancelled) }
        /// The lock is held by someone else now (our lease ended and another owner took it).
        public static var notOwner: Code { Code(base: .notOwner) }
        /// The lease had already expired (nobody holds the resource).
        public static var alreadyExpired: Code { Code(base: .alreadyExpired) }
        /// An argument was rejected before anything was sent; or a configuration that turned
        /// out to be wrong once a server answered (two Redlock nodes that are one server).
        public static var invalidArgument: Code { Code(base: .invalidArgument) }
        /// The backend could not be reached or did not answer in time.
        public static var backendUnavailable: Code { Code(base: .backendUnavailable) }
        /// The backend answered with an error (misconfiguration, ACL, script error).
        public static var serverError: Code { Code(base: .serverError) }
        /// A held lease was lost (renewal found another owner, or validity passed unrenewed).
        public static var lockLost: Code { Code(base: .lockLost) }
        /// Too few Redlock nodes granted the lock.
        public static var quorumNotReached: Code { Code(base: .quorumNotReached) }
        /// The server refused the credentials (a wrong password or user, or AUTH required and
        /// none configured). Retrying will not help: the configuration must change.
        public static var authenticationFailed: Code { Code(base: .authenticationFailed) }

        /// The code's name.
        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// A human-readable explanation; never contains owner tokens or passwords.
    public let message: String
    /// The resource concerned, when one is.
    public let resource: String?
    /// Who holds the resource, for ``Code/busy`` and ``Code/notOwner``.
    public let holder: LockHolder?
    /// The Redis client error behind ``Code/backendUnavailable``, ``Code/serverError`` or
    /// ``Code/authenticationFailed``.
    public let underlying: RedisClientError?
    /// Redlock: what each node answered, for ``Code/quorumNotReached``, for a
    /// ``Code/serverError`` that too many nodes answered for a quorum, and per-node failures.
    public let nodes: [RedlockNodeOutcome]
    /// Set by the errors of a lock or fence key that holds something Locky did not write there
    /// (`LockError+ForeignValues`), which answer no WRONGTYPE of their own: see
    /// `refusesForeignKey`.
    var foreignKey = false

    /// Creates an error.
    public init(
        _ code: Code,
        _ message: String,
        resource: String? = nil,
        holder: LockHolder? = nil,
        underlying: RedisClientError? = nil,
        nodes: [RedlockNodeOutcome] = []
    ) {
        self.code = code
        self.message = message
        self.resource = resource
        self.holder = holder
        self.underlying = underlying
        self.nodes = nodes
    }

    /// Whether this is a refusal for a key of another type (a lock key that holds no lock, a
    /// fence key that holds no counter, a WRONGTYPE reply): a fact about the data, not a
    /// failing node, so trying again cannot help (Redlock counts these, `RedlockTally`).
    var refusesForeignKey: Bool {
        foreignKey || underlying?.serverError?.code == .wrongtype
    }

    /// `code: message`, the resource, the underlying error where the message does not already say it, the nodes.
    public var description: String {
        var text = "\(code): \(message)"
        if let resource { text += " [resource \(resource.debugDescription)]" }
        if let underlying, let cause = RedisClientError.cause(underlying, of: message) { text += " (\(cause))" }
        if !nodes.isEmpty { text += "; nodes: " + nodes.map(\.description).joined(separator: ", ") }
        return text
    }

    /// A Redis client error as a lock error: refused credentials are `authenticationFailed`
    /// (also when the client is backing off after such a refusal), a refused database index is
    /// `serverError` (likewise), other transport problems
    /// `backendUnavailable`, error replies `serverError`, cancellation `cancelled`.
    public init(_ error: RedisClientError, during operation: String) {
        switch error.connectionCause.code {
        case .serverError:
            self.init(.serverError, "\(operation): the server refused: \(error.message)", underlying: error)
        case .cancelled:
            self.init(.cancelled, "\(operation) was cancelled", underlying: error)
        case .authenticationFailed:
            self.init(.authenticationFailed, "\(operation): \(error.message)", underlying: error)
        case .configurationRejected:
            self.init(.serverError, "\(operation): \(error.message)", underlying: error)
        default:
            self.init(.backendUnavailable, "\(operation): \(error.message)", underlying: error)
        }
    }
}
