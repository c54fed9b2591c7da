/// The outcome of ``LockClient/refresh(_:locker:)->[ResourceResult<RefreshOutcome>]`` for one resource.
public enum RefreshOutcome: Sendable, Hashable {
    /// The TTL was reset.
    case refreshed
    /// Nobody held it; nothing was done (refresh never creates a lock).
    case notLocked
    /// Another locker holds it and the call was owner-checked: nothing was changed.
    case heldByAnother(LockHolder)
}
