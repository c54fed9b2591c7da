import LockyRedis

/// Everything a ``LockClient`` needs: the backend and the defaults of every call.
///
/// Build it in code, from a URL (``init(url:)``), or from the environment
/// (``fromEnvironment(_:)``: `LOCKY_URL` or the JSON `LOCKY_CONFIG`).
public struct LockyConfiguration: Sendable, Hashable {
    /// Which backend holds the locks.
    public enum Backend: Sendable, Hashable {
        /// One Redis server.
        case redis(RedisConfiguration)
        /// This process only.
        case memory
        /// A majority of independent Redis servers (Redlock).
        case redlock(RedlockConfiguration)
    }

    /// Which backend holds the locks.
    public var backend: Backend
    /// Prefix of every lock, fence and queue key (and wake channel), `locky:` by default;
    /// fenced-value keys are used as given.
    public var prefix: String
    /// Default TTL of leases; leases always expire.
    public var leaseTTL: Duration
    /// TTL of the locker API's locks; nil (the seed's default) means they never expire.
    public var lockerTTL: Duration?
    /// Retries of ``LockClient/acquire(_:ttl:label:retry:)-([String],_,_,_)`` while busy.
    public var retry: RetryPolicy
    /// Clock drift allowance, as a fraction of the TTL (plus 2 ms), subtracted from a lease's validity.
    public var driftFactor: Double
    /// Readable label put in front of lease owner tokens (e.g. `host:pid`), so holders can be told apart.
    public var label: String?

    /// Creates a configuration; the defaults are a local Redis, `locky:`, 30 s leases and
    /// never-expiring locker locks.
    public init(
        backend: Backend = .redis(RedisConfiguration()),
        prefix: String = "locky:",
        leaseTTL: Duration = .seconds(30),
        lockerTTL: Duration? = nil,
        retry: RetryPolicy = RetryPolicy(),
        driftFactor: Double = 0.01,
        label: String? = nil
    ) {
        self.backend = backend
        self.prefix = prefix
        self.leaseTTL = leaseTTL
        self.lockerTTL = lockerTTL
        self.retry = retry
        self.driftFactor = driftFactor
        self.label = label
    }

    /// A configuration for `memory://`, a Redis URL (`redis://…`, `rediss://…`, `unix://…`), or
    /// a comma-separated list of Redis URLs: the Redlock nodes.
    public init(url: String) throws(LockError) {
        self.init()
        self.backend = try Self.backend(url: url)
    }

    static func backend(url: String) throws(LockError) -> Backend {
        let trimmed = url.trimmingSpacesAndNewlines
        if trimmed == "memory://" || trimmed == "memory:" || trimmed == "memory" { return .memory }
        // A comma separates node URLs; one inside a password stays with its URL (what follows it
        // does not start a URL of its own).
        var parts: [String] = []
        for piece in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = String(piece).trimmingSpacesAndNewlines
            if let last = parts.last, !last.isEmpty, !entry.isEmpty, !entry.contains("://") {
                parts[parts.count - 1] = last + "," + String(piece)
            } else {
                parts.append(entry)
            }
        }
        if parts.count > 1 {
            var nodes: [RedisConfiguration] = []
            for (index, part) in parts.enumerated() {
                guard !part.isEmpty else {
                    throw LockError(.invalidArgument, "malformed URL list: entry \(index + 1) of \(parts.count) is empty")
                }
                do {
                    nodes.append(try RedisConfiguration(url: part))
                } catch {
                    throw LockError(.invalidArgument, "malformed URL list: entry \(index + 1) of \(parts.count): \(error)")
                }
            }
            return .redlock(RedlockConfiguration(nodes: nodes))
        }
        do {
            return .redis(try RedisConfiguration(url: trimmed))
        } catch {
            throw LockError(.invalidArgument, "malformed URL: \(error)")
        }
    }

    /// The backend of `urls`, one URL each (LOCKY_CONFIG's array form): several are Redlock
    /// nodes, one is that server. A comma in an entry stays in it (a password).
    static func backend(urls: [String]) throws(LockError) -> Backend {
        guard urls.count > 1 else { return try backend(url: urls[0]) }
        var nodes: [RedisConfiguration] = []
        for (index, url) in urls.enumerated() {
            do {
                nodes.append(try RedisConfiguration(url: url.trimmingSpacesAndNewlines))
            } catch {
                throw LockError(.invalidArgument, "malformed URL list: entry \(index + 1) of \(urls.count): \(error)")
            }
        }
        return .redlock(RedlockConfiguration(nodes: nodes))
    }

    /// Checks every value; called by ``LockClient``.
    public func validate() throws(LockError) {
        try LockLimits.validate(prefix: prefix)
        try LockLimits.validate(ttl: leaseTTL, role: "lease TTL")
        if let lockerTTL { try LockLimits.validate(ttl: lockerTTL, role: "locker TTL") }
        guard driftFactor >= 0, driftFactor < 0.5 else {
            throw LockError(.invalidArgument, "the drift factor (\(driftFactor)) must be in 0..<0.5")
        }
        try LockClient.validate(leaseTTL: leaseTTL, driftFactor: driftFactor, role: "lease TTL")
        try LockLimits.validate(retry: retry)
        if let label { try LockLimits.validate(owner: label, role: "label") }
        switch backend {
        case .redis(let redis):
            do {
                try redis.validate()
            } catch {
                throw LockError(.invalidArgument, "invalid Redis configuration: \(error)")
            }
        case .redlock(let redlock):
            try redlock.validate()
        case .memory:
            break
        }
    }
}
