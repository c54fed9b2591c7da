/// Why a lease was lost.
public enum LeaseLoss: Sendable, Hashable {
    /// Renewal found the lock gone (it expired) or held by another owner (`holder`).
    case notOwner(holder: LockHolder?)
    /// The lease's validity passed before a renewal confirmed it: renewal could not reach the
    /// backend in time, or the process (or its renewal loop) was paused or starved past it.
    case expired
    /// The lease reached its maximum hold time.
    case maximumHoldTimeReached
    /// The lease reached its maximum number of renewals.
    case maximumRenewalsReached
    /// The client's renewal loop stopped (its service shut down) while the lease was held:
    /// nothing renews it any more, so it is given up rather than left to lapse unannounced.
    case renewalStopped
}
