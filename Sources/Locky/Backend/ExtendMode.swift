/// How ``LockBackend/extend(_:owner:ttl:mode:)`` sets the new expiry.
public enum ExtendMode: Sendable, Hashable {
    /// Expire `ttl` from now.
    case resetTo
    /// Expire `ttl` later than the current expiry.
    case addTo
}
