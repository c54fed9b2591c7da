import Locky
import LockyRESP
import LockyRedis

/// Whether a majority of Redlock nodes answer, for commands that would otherwise run blind.
///
/// `watch` on Redlock subscribes to every node and keeps retrying the ones that are down, in
/// the background: with most nodes down no event could ever reach a quorum, and the stream
/// would stay silent forever. One Redis server that cannot be reached exits 69 at once; this
/// check gives Redlock the same answer when fewer than a quorum of nodes answer.
enum RedlockQuorumCheck {
    /// The longest a node gets to answer the `PING`: its first connection is made here, so
    /// the node timeout (100 ms by default, meant for round trips on open connections) could
    /// count a slow but healthy node out.
    static let minimumWait = Duration.seconds(1)

    /// Throws a ``CLIError`` with exit 69 naming every node that did not answer when fewer than
    /// a quorum answer a `PING` (within the node timeout, at least ``minimumWait``); `purpose`
    /// says what could not be done ("watch lock events").
    static func require(_ backend: RedlockBackend, toDo purpose: String) async throws(CLIError) {
        let nodes = backend.nodeBackends
        let wait = max(backend.nodeTimeout, minimumWait)
        let failures = await withTaskGroup(of: (Int, RedisClientError?).self) { group in
            for (index, node) in nodes.enumerated() {
                group.addTask {
                    do throws(RedisClientError) {
                        _ = try await node.client.execute(RESPCommand("PING"), timeout: wait)
                        return (index, nil)
                    } catch {
                        // An error reply (an ACL without PING) still proves the node is there.
                        return (index, error.connectionCause.code == .serverError ? nil : error)
                    }
                }
            }
            var failures: [(index: Int, error: RedisClientError)] = []
            for await (index, error) in group {
                if let error { failures.append((index, error)) }
            }
            return failures.sorted { $0.index < $1.index }
        }
        let answered = nodes.count - failures.count
        guard answered < backend.quorum else { return }
        let causes = failures.map { failure in
            let cause = failure.error.connectionCause
            return "\(backend.nodeAddresses[failure.index]): \(cause.code): \(cause.message)"
        }
        throw CLIError(
            status: ExitStatus.unavailable,
            message: "cannot \(purpose): \(answered) of \(nodes.count) Redlock nodes answered, \(backend.quorum) needed; "
                + causes.joined(separator: "; ")
        )
    }
}
