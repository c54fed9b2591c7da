/// Who holds a resource, as far as the backend knows.
public struct LockHolder: Sendable, Hashable, CustomStringConvertible {
    /// The owner string stored in the lock key: a locker id, or a lease's owner (label and token).
    public let owner: String
    /// Time left before the lock expires; nil when it has no expiry.
    public let remaining: Duration?
    /// The fencing token of the current holding, when known.
    public let fencingToken: Int64?

    /// Creates a holder description.
    public init(owner: String, remaining: Duration?, fencingToken: Int64? = nil) {
        self.owner = owner
        self.remaining = remaining
        self.fencingToken = fencingToken
    }

    /// The owner's readable part: the label of a lease owner (`lease` without one), or the
    /// locker id. A locker id shaped like a lease owner (32 lowercase hex digits, after an
    /// optional `label/`) is shown as one, so choose locker ids that are not.
    public var displayName: String { LeaseOwner.displayName(of: owner) }

    /// `owner (remaining)`; a lease's secret token is not printed.
    public var description: String {
        if let remaining { return "\(displayName) (\(remaining) left)" }
        return "\(displayName) (no expiry)"
    }
}
