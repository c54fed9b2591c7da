import LockyRedis

/// The Redlock backend's nodes and per-node settings. Retries (count, delay, jitter) and the
/// drift factor are the ``LockyConfiguration``'s, as for every backend.
public struct RedlockConfiguration: Sendable, Hashable {
    /// The independent Redis masters (not replicas of each other). An odd number, 3 or 5, is
    /// what Redlock is for; 1 works (and behaves like the Redis backend); an even number
    /// tolerates no more failures than one node fewer.
    public var nodes: [RedisConfiguration]
    /// How long one node may take to answer before it counts as failed for that attempt. The
    /// Redlock spec suggests 5–50 ms for a 10 s TTL; the default, 100 ms, leaves room for loaded
    /// machines. A slow node costs at most this much, and its connection is kept, so a release
    /// sent next can never overtake the acquire it follows.
    public var nodeTimeout: Duration
    /// Whether extend and renewal re-create the lock on nodes that lost it (a node that restarted
    /// empty), restoring the fault tolerance of a held lock (redsync's SetNXOnExtend). Off by
    /// default: it is only safe together with the delayed-restart rule or persistence.
    public var recreateMissingLocks: Bool

    /// Creates a configuration.
    public init(
        nodes: [RedisConfiguration],
        nodeTimeout: Duration = .milliseconds(100),
        recreateMissingLocks: Bool = false
    ) {
        self.nodes = nodes
        self.nodeTimeout = nodeTimeout
        self.recreateMissingLocks = recreateMissingLocks
    }

    /// How many nodes must agree: a strict majority, `N / 2 + 1`.
    public var quorum: Int { nodes.count / 2 + 1 }

    /// Checks the node list and every node's configuration.
    public func validate() throws(LockError) {
        guard !nodes.isEmpty else { throw LockError(.invalidArgument, "Redlock needs at least one node") }
        guard nodes.count <= 31 else {
            throw LockError(.invalidArgument, "Redlock takes at most 31 nodes (got \(nodes.count))")
        }
        guard nodeTimeout > .zero else { throw LockError(.invalidArgument, "the Redlock node timeout must be positive") }
        var seen = Set<String>()
        for node in nodes {
            do {
                try node.validate()
            } catch {
                throw LockError(.invalidArgument, "invalid Redlock node \(node.address): \(error)")
            }
            // The server, not the database: two databases of one server fail and restart together,
            // and would count as two votes of a quorum.
            var identity = node.address.description.lowercased()
            if case .tcp(let host, let port) = node.address, host.lowercased() == "localhost" { identity = "127.0.0.1:\(port)" }
            guard seen.insert(identity).inserted else {
                throw LockError(
                    .invalidArgument,
                    "Redlock node \(node.address) is listed twice (databases of one server are one node); nodes must be independent servers"
                )
            }
        }
    }
}
