/// The outcome of releasing a lease. Release is owner-checked and idempotent.
public enum ReleaseOutcome: Sendable, Hashable {
    /// Every resource was still ours and is now free.
    case released
    /// The lease had already expired on at least one resource (free, or taken by another
    /// owner); whatever was still ours was released. Answered at once, without retries.
    case alreadyExpired
    /// This lease was released before; nothing was sent.
    case alreadyReleased
}
