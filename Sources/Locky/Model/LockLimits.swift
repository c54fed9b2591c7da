/// The documented limits of arguments; anything outside them is rejected before it is sent.
public enum LockLimits {
    /// Longest resource name, in UTF-8 bytes.
    public static let maximumResourceLength = 512
    /// Longest locker id or lease label, in UTF-8 bytes.
    public static let maximumOwnerLength = 512
    /// Most resources in one call.
    public static let maximumResourcesPerCall = 10_000
    /// Shortest TTL (Redis counts expiry in milliseconds).
    public static let minimumTTL: Duration = .milliseconds(1)
    /// Longest TTL: 30 days. A lock meant to outlive that wants no expiry (locker API) instead.
    public static let maximumTTL: Duration = .seconds(30 * 24 * 3600)
    /// Longest key prefix, in UTF-8 bytes.
    public static let maximumPrefixLength = 128

    /// Rejects an empty, oversized or duplicated resource list.
    static func validate(resources: [String]) throws(LockError) {
        guard !resources.isEmpty else {
            throw LockError(.invalidArgument, "the resource list is empty")
        }
        guard resources.count <= maximumResourcesPerCall else {
            throw LockError(
                .invalidArgument, "\(resources.count) resources exceed the maximum of \(maximumResourcesPerCall) per call")
        }
        // Byte for byte, as Redis tells keys apart (see ``ExactName``).
        var seen = Set<ExactName>()
        seen.reserveCapacity(resources.count)
        for resource in resources {
            try validate(resource: resource)
            guard seen.insert(ExactName(resource)).inserted else {
                throw LockError(.invalidArgument, "the resource is listed twice", resource: resource)
            }
        }
    }

    /// Rejects an empty or oversized resource name, one that is nothing but a hash tag, and one
    /// that starts with `}`.
    static func validate(resource: String) throws(LockError) {
        guard !resource.isEmpty else {
            throw LockError(.invalidArgument, "a resource name is empty")
        }
        let length = resource.utf8.count
        guard length <= maximumResourceLength else {
            throw LockError(
                .invalidArgument,
                "a resource name is \(length) bytes long; the maximum is \(maximumResourceLength)",
                resource: String(resource.prefix(64)) + "…"
            )
        }
        // `}x` has no hash tag, and wrapped as `{}x}` it would get an empty one, which Redis
        // ignores: its lock, fence and queue keys would hash to different cluster slots.
        if resource.utf8.first == UInt8(ascii: "}") {
            throw LockError(
                .invalidArgument,
                "a resource name cannot start with `}`: its keys would not share a hash tag (slot)", resource: resource)
        }
        // A name with a hash tag is its own key; it must not be a key of another resource:
        // `{X}` is the lock key of `X`, and `{tag}:x:fence` the fence key of `{tag}:x`.
        // Compared as bytes, like everything that names a key.
        if LockKeyspace.hasHashTag(resource),
            LockKeyspace.resource(ofKeyAfterPrefix: Array(resource.utf8)[...])?.utf8.elementsEqual(resource.utf8) != true
        {
            throw LockError(
                .invalidArgument,
                "a resource name cannot be only a hash tag (write `{tag}:name`) nor end in :fence, :queue or :waiters "
                    + "after a hash tag: its key would be another resource's",
                resource: resource
            )
        }
    }

    /// Rejects an empty or oversized locker id or label.
    static func validate(owner: String, role: String) throws(LockError) {
        guard !owner.isEmpty else { throw LockError(.invalidArgument, "the \(role) is empty") }
        guard owner.utf8.count <= maximumOwnerLength else {
            throw LockError(.invalidArgument, "the \(role) is longer than \(maximumOwnerLength) bytes")
        }
    }

    /// Rejects a TTL outside `minimumTTL...maximumTTL`.
    static func validate(ttl: Duration, role: String = "TTL") throws(LockError) {
        guard ttl >= minimumTTL else {
            throw LockError(.invalidArgument, "the \(role) (\(ttl.readable)) must be at least \(minimumTTL.readable)")
        }
        guard ttl <= maximumTTL else {
            throw LockError(.invalidArgument, "the \(role) (\(ttl.readable)) exceeds the maximum of 30 days")
        }
    }

    /// Rejects a negative retry delay or jitter, and one above `maximumTTL` (beyond that the
    /// jitter's nanoseconds would overflow).
    static func validate(retry: RetryPolicy) throws(LockError) {
        guard retry.delay >= .zero, retry.jitter >= .zero else {
            throw LockError(.invalidArgument, "retry delay and jitter must not be negative")
        }
        guard retry.delay <= maximumTTL, retry.jitter <= maximumTTL else {
            throw LockError(.invalidArgument, "retry delay and jitter must not exceed 30 days")
        }
    }

    /// Rejects a prefix that is too long or would break the hash tag.
    static func validate(prefix: String) throws(LockError) {
        guard prefix.utf8.count <= maximumPrefixLength else {
            throw LockError(.invalidArgument, "the key prefix is longer than \(maximumPrefixLength) bytes")
        }
        // Bytes, as Redis finds a hash tag: `{` followed by a combining mark is one Character
        // that is not "{", and passed.
        guard !prefix.utf8.contains(UInt8(ascii: "{")), !prefix.utf8.contains(UInt8(ascii: "}")) else {
            throw LockError(.invalidArgument, "the key prefix must not contain '{' or '}' (it would change the hash tag)")
        }
    }
}
