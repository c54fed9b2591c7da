/// The least-privilege ACL of SECURITY.md (prefix `locky:`, database 0) as data, so a test can
/// run Locky under exactly it, or take one part away.
struct LeastPrivilegeACL: Sendable, CustomStringConvertible {
    /// Every Locky key: lock, fence, queue and waiters keys, and (in the tests) fenced data.
    var keys = ["~locky:*"]
    /// The event channel, the fair waiters' wake channels, keyspace `expired` events of db 0.
    var channels = ["&locky:events", "&locky:wake:*", "&__keyevent@0__:expired"]
    /// Keep-alive, scripts, pub/sub, fenced read, then the commands the scripts call.
    var commands = [
        "ping", "evalsha", "script|load", "subscribe", "unsubscribe", "hmget",
        "get", "set", "mget", "mset", "del", "exists", "incr", "pexpire", "persist", "pttl", "publish", "time",
        "zadd", "zrange", "zrem", "zscore", "hget", "hset", "hdel", "hincrby", "pubsub|numsub",
    ]

    /// The rules after `ACL SETUSER <name> on >password`.
    var rules: String {
        (["resetkeys", "resetchannels"] + keys + channels + ["-@all"] + commands.map { "+" + $0 }).joined(separator: " ")
    }

    var description: String { rules }

    /// The same ACL without one command.
    func without(command: String) -> LeastPrivilegeACL {
        var acl = self
        acl.commands.removeAll { $0 == command }
        return acl
    }

    /// The same ACL without one channel pattern.
    func without(channel: String) -> LeastPrivilegeACL {
        var acl = self
        acl.channels.removeAll { $0 == channel }
        return acl
    }

    /// The same ACL with other key patterns.
    func with(keys: [String]) -> LeastPrivilegeACL {
        var acl = self
        acl.keys = keys
        return acl
    }
}
