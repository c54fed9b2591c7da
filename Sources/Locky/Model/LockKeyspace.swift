/// How resources map to Redis keys.
///
/// A resource `R` is locked in the key `<prefix>{R}`, which holds the owner as a plain string
/// with a `PX` expiry: the Redlock convention, so redis-py, node-redlock or redsync clients
/// configured with the same key name exclude each other with Locky. Its fencing counter is
/// `<prefix>{R}:fence`. The braces make `R` the hash tag, so both keys of a resource live in
/// the same Redis Cluster slot. A resource that already carries a hash tag (`{order-7}:pdf`)
/// is used as it is (`<prefix>{order-7}:pdf`), so resources can be grouped into one slot.
public struct LockKeyspace: Sendable, Hashable {
    /// The prefix of every key, `locky:` by default.
    public let prefix: String

    /// The pub/sub channel the scripts publish lock events on: `<prefix>events`.
    public let eventChannel: String

    /// The start of every client's wake channel: `<prefix>wake:`.
    public let wakeChannelPrefix: String

    /// Creates a keyspace.
    public init(prefix: String = "locky:") throws(LockError) {
        try LockLimits.validate(prefix: prefix)
        self.init(validPrefix: prefix)
    }

    private init(validPrefix prefix: String) {
        self.prefix = prefix
        self.eventChannel = prefix + "events"
        self.wakeChannelPrefix = prefix + "wake:"
    }

    /// The default layout, prefix `locky:`.
    static let standard = LockKeyspace(validPrefix: "locky:")

    /// The key that holds the lock of `resource`.
    public func lockKey(_ resource: String) -> String {
        // Sized once: `a + b + c` allocates a string per `+`. Braces make the resource the hash
        // tag, unless it carries one of its own. (Requests write keys in place instead, with
        // `RESPBulkStringWriter.writeLockKey(of:tagged:in:)`.)
        let tagged = Self.hasHashTag(resource)
        var key = ""
        key.reserveCapacity(lockKeyLength(of: resource, tagged: tagged))
        key.append(prefix)
        if !tagged { key.append("{") }
        key.append(resource)
        if !tagged { key.append("}") }
        return key
    }

    /// The length in bytes of `resource`'s lock key; `tagged` is ``hasHashTag(_:)`` of it,
    /// passed in so a request over many keys of a resource scans its name once.
    func lockKeyLength(of resource: String, tagged: Bool) -> Int {
        prefix.utf8.count + resource.utf8.count + (tagged ? 0 : 2)
    }

    /// The key that counts the fencing tokens of `resource` (never expires).
    public func fenceKey(_ resource: String) -> String {
        lockKey(resource) + Self.fenceSuffix
    }

    /// The fair queue of `resource`: a sorted set of waiter ids by ticket.
    public func queueKey(_ resource: String) -> String {
        lockKey(resource) + Self.queueSuffix
    }

    /// What follows the lock key in the fence key.
    static let fenceSuffix = ":fence"
    /// What follows the lock key in the queue key.
    static let queueSuffix = ":queue"
    /// What follows the lock key in the fair waiters key.
    static let waitersSuffix = ":waiters"

    /// The fair waiters of `resource`: a hash of waiter id → liveness deadline (server ms),
    /// plus what a hand-off to each needs.
    public func waitersKey(_ resource: String) -> String {
        lockKey(resource) + Self.waitersSuffix
    }

    /// The channel where releases address a fair waiter (`<client token>.<n>`) directly.
    public func wakeChannel(forWaiter waiter: String) -> String {
        wakeChannelPrefix + String(waiter.prefix { $0 != "." })
    }

    /// The resource of a lock key, or nil when the key is not a lock key of this keyspace.
    public func resource(ofLockKey key: String) -> String? {
        // Bytes, as Redis tells keys apart. String's `hasPrefix` and `dropFirst` work on
        // characters: a resource starting with a combining mark joins the prefix's last one.
        let bytes = Array(key.utf8)
        guard bytes.starts(with: prefix.utf8) else { return nil }
        return Self.resource(ofKeyAfterPrefix: bytes[prefix.utf8.count...])
    }

    /// The resource whose lock, fence, queue or waiters key `key` is, with the key's suffix
    /// (empty for the lock key); nil when `key` is none of them.
    func resourceAndSuffix(ofKey key: String) -> (resource: String, suffix: String)? {
        let bytes = Array(key.utf8)
        guard bytes.starts(with: prefix.utf8) else { return nil }
        let rest = bytes[prefix.utf8.count...]
        if let resource = Self.resource(ofKeyAfterPrefix: rest) { return (resource, "") }
        for suffix in [Self.fenceSuffix, Self.queueSuffix, Self.waitersSuffix] where rest.count > suffix.utf8.count {
            guard rest.suffix(suffix.utf8.count).elementsEqual(suffix.utf8) else { continue }
            return Self.resource(ofKeyAfterPrefix: rest.dropLast(suffix.utf8.count)).map { ($0, suffix) }
        }
        return nil
    }

    /// The resource whose lock key is `<prefix><rest>`, or nil when that is no lock key.
    static func resource(ofKeyAfterPrefix rest: ArraySlice<UInt8>) -> String? {
        // Bytes again: as characters, `x\u{600}:fence` does not end in `:fence` (U+0600 joins
        // the colon), yet its key is the fence key of `x\u{600}`.
        for suffix in [fenceSuffix, queueSuffix, waitersSuffix] where rest.count >= suffix.utf8.count {
            if rest.suffix(suffix.utf8.count).elementsEqual(suffix.utf8) { return nil }
        }
        if rest.first == UInt8(ascii: "{"), rest.last == UInt8(ascii: "}") {
            let inner = rest.dropFirst().dropLast()
            // `{R}` wraps a resource without its own tag; with one, the key is the resource.
            if !inner.withUnsafeBufferPointer(hasHashTag(bytes:)) { return String(decoding: inner, as: UTF8.self) }
        }
        return rest.withUnsafeBufferPointer(hasHashTag(bytes:)) ? String(decoding: rest, as: UTF8.self) : nil
    }

    /// Whether Redis would find a hash tag in `text`: a `{` followed later by `}` with something between.
    static func hasHashTag(_ text: String) -> Bool {
        // Bytes, as Redis sees them: a native string's contiguous UTF-8 scans several times
        // faster than the UTF8View's indices (a batch request scans every name).
        if let found = text.utf8.withContiguousStorageIfAvailable(hasHashTag(bytes:)) { return found }
        return Array(text.utf8).withUnsafeBufferPointer(hasHashTag(bytes:))
    }

    private static func hasHashTag(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let open = bytes.firstIndex(of: UInt8(ascii: "{")) else { return false }
        guard let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")) else { return false }
        return close > open + 1
    }
}
