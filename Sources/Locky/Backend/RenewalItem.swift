/// One lock to renew: ``LockBackend/renew(_:)``.
public struct RenewalItem: Sendable, Hashable {
    /// The resource.
    public let resource: String
    /// The owner that must still hold it.
    public let owner: String
    /// The new TTL, from now.
    public let ttl: Duration

    /// Creates an item.
    public init(resource: String, owner: String, ttl: Duration) {
        self.resource = resource
        self.owner = owner
        self.ttl = ttl
    }
}
