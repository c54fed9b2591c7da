import LockyRESP
import LockyRedis

/// One lock operation as Redis sees it: the script, the command that runs it, and how to read
/// the reply. Built once and sent to one server (``RedisLockBackend``) or to many at once
/// (``RedlockBackend``: every node gets the same command).
struct RedisLockRequest<Reply: Sendable>: Sendable {
    /// The script the command runs (`EVALSHA`), for the `NOSCRIPT` retry; nil for a plain command.
    let script: RedisScript?
    let command: RESPCommand
    /// For error messages: `acquire`, `unlock`, ….
    let operation: String
    let parse: @Sendable (RESPToken) throws(LockError) -> Reply
}
