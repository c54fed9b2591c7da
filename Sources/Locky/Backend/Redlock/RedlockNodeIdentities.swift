/// Finds Redlock nodes that are one server under two addresses. The configuration's text check
/// catches the same address twice (and `localhost` for `127.0.0.1`); `127.1`, `0.0.0.0`,
/// another host name or a port forward pass it, and one server would then cast two votes: a
/// false quorum. Each node's connection learns its server's `run_id` (random per server
/// process; ``LockyRedis/RedisClient/learnServerRunID()``); two nodes with one `run_id` are
/// one server. Pure, no I/O: ``RedlockBackend`` reads the run_ids, which costs no round trip.
struct RedlockNodeIdentities: Sendable {
    /// Node addresses, in configuration order, for the error.
    let nodes: [String]

    /// The error naming the first two nodes that report one `run_id` (`runIDs` in node order,
    /// nil where not known); nil when every known `run_id` differs.
    func conflict(_ runIDs: [String?]) -> LockError? {
        // A handful of nodes: pairwise comparison allocates nothing.
        for first in runIDs.indices {
            guard let id = runIDs[first] else { continue }
            for second in runIDs.indices[(first + 1)...] where runIDs[second] == id {
                return LockError(
                    .invalidArgument,
                    "Redlock nodes \(nodes[first]) and \(nodes[second]) are one server (both report run_id \(id.prefix(8))…): "
                        + "it would count as two votes of a quorum; nodes must be independent servers. Nothing was granted"
                )
            }
        }
        return nil
    }
}
