/// The outcome of ``LockClient/lock(_:locker:force:)->[ResourceResult<LockOutcome>]`` for one resource.
public enum LockOutcome: Sendable, Hashable {
    /// The locker now holds the resource; a new fencing token was issued.
    case acquired(fencingToken: Int64)
    /// The locker already held it; its TTL was reset and the current fencing token returned.
    case alreadyHeld(fencingToken: Int64)
    /// Someone else holds it (nothing was changed, not even the holder's TTL).
    case busy(LockHolder)

    /// Whether the locker holds the resource after the call.
    public var isLocked: Bool {
        switch self {
        case .acquired, .alreadyHeld: return true
        case .busy: return false
        }
    }
}
