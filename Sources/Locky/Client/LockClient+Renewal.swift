extension LockClient {
    /// Renews `lease` automatically in the client's renewal loop (``run()`` must be running)
    /// until it is released, lost, or ``stopRenewing(_:)`` is called. Follow
    /// ``Lease/states()`` to learn about renewals and a loss. `withLock` does this for you.
    /// When the loop stops (the service shuts down), every lease it renews ends with
    /// ``LeaseLoss/renewalStopped``, and so does one registered after that.
    ///
    /// - Parameters:
    ///   - lease: A lease of this client, not yet released.
    ///   - maximumHoldTime: Ends the lease (reason `maximumHoldTimeReached`) after this long.
    ///   - maximumRenewals: Ends the lease after this many renewals.
    /// - Throws: ``LockError`` `invalidArgument` for a negative count or a hold time out of
    ///   range, and when the loop renews `lease` already (another call, or the `withLock` that
    ///   holds it): its count and hold time would start over. Call ``stopRenewing(_:)`` first
    ///   to renew it with other bounds.
    public func startRenewing(_ lease: Lease, maximumHoldTime: Duration? = nil, maximumRenewals: Int? = nil) throws(LockError) {
        if let maximumHoldTime { try LockLimits.validate(ttl: maximumHoldTime, role: "maximum hold time") }
        if let maximumRenewals, maximumRenewals < 0 {
            throw LockError(.invalidArgument, "the maximum number of renewals is negative")
        }
        guard renewals.register(lease, maximumHoldTime: maximumHoldTime, maximumRenewals: maximumRenewals) else {
            throw LockError(.invalidArgument, "the lease is renewed already; stopRenewing(_:) it first to change its bounds")
        }
    }

    /// Stops renewing `lease` (it stays held until its TTL runs out or it is released).
    public func stopRenewing(_ lease: Lease) {
        renewals.unregister(lease)
    }

    /// Number of leases the client's renewal loop keeps alive.
    public var renewingCount: Int { renewals.count }
}
