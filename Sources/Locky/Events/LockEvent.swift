/// Something that happened to a lock, seen by every process (published by the lock scripts and
/// by Redis keyspace notifications).
public enum LockEvent: Sendable {
    /// `locker` took `resource` (a locker id, or a lease's label; never a secret token).
    /// `ttl` is the lock's TTL, nil when it does not expire.
    case locked(resource: String, locker: String, ttl: Duration?)
    /// `resource` was unlocked or released.
    case unlocked(resource: String)
    /// `resource`'s lock expired.
    case expired(resource: String)
    /// Events may have been missed (the connection was lost and restored, or this consumer fell
    /// more than 65,536 events behind and newer ones were dropped): re-check what matters.
    case gap
    /// Something went wrong while watching (the stream goes on).
    case error(LockError)

    /// The resource concerned, if any.
    public var resource: String? {
        switch self {
        case .locked(let resource, _, _), .unlocked(let resource), .expired(let resource): return resource
        case .gap, .error: return nil
        }
    }
}
