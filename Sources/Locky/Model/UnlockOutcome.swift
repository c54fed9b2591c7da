/// The outcome of ``LockClient/unlock(_:locker:)->[ResourceResult<UnlockOutcome>]`` for one resource.
public enum UnlockOutcome: Sendable, Hashable {
    /// The lock was removed.
    case unlocked
    /// Nobody held it.
    case notLocked
    /// Another locker holds it and the call was owner-checked: nothing was changed.
    case heldByAnother(LockHolder)
}
