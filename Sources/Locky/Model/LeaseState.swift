/// What happens to a lease while it is held, as ``Lease/states()`` reports it.
public enum LeaseState: Sendable, Hashable {
    /// The lease was renewed; `remaining` is its new validity.
    case renewed(remaining: Duration)
    /// A renewal failed (the backend was unreachable); it is retried until the validity passes.
    case renewalFailed(message: String)
    /// The lease is lost; this is the last state.
    case lost(LeaseLoss)
}
