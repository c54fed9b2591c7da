/// The outcome of renewing one lock.
public enum RenewalResult: Sendable, Hashable {
    /// Still ours; the TTL was reset.
    case renewed
    /// Gone (expired).
    case missing
    /// Held by another owner.
    case heldByAnother(owner: String)
    /// Undecided: too few Redlock nodes answered to tell (retried like an unreachable backend).
    case unknown
}
