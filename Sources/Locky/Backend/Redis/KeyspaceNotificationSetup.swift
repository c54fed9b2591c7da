/// What a look at `notify-keyspace-events` found and did (the `E` and `x` flags that
/// `expired` events need).
enum KeyspaceNotificationSetup: Sendable {
    /// Both flags were set.
    case alreadyOn
    /// They were missing from `flags` and are set now.
    case switchedOn(from: String)
    /// They are missing and the server refused `CONFIG SET`.
    case cannotSet(LockError)
    /// The server refused `CONFIG GET`: whether they are set is unknown.
    case cannotRead(LockError)
    /// The server could not be reached.
    case unreachable(LockError)

    /// The error to pass on, if any.
    var error: LockError? {
        switch self {
        case .alreadyOn, .switchedOn: return nil
        case .cannotSet(let error), .cannotRead(let error), .unreachable(let error): return error
        }
    }

    /// Whether the flags could not be read for want of permission.
    var cannotRead: Bool {
        if case .cannotRead = self { return true }
        return false
    }
}
