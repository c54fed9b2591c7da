import LockyRESP

/// A Lua script and its SHA-1, run with `EVALSHA`.
///
/// On `NOSCRIPT` (the server's script cache was flushed or the server restarted) the client
/// loads the script and retries exactly once; see ``RedisClient/run(_:_:timeout:)``.
public struct RedisScript: Sendable, Hashable {
    /// A short name for logs and traces, e.g. `acquire`.
    public let name: String
    /// The Lua source.
    public let source: String
    /// Lower-case hex SHA-1 of ``source``, as Redis computes it.
    public let sha1: String

    /// Creates a script; the SHA-1 is computed here, once.
    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha1 = SHA1.hexDigest(source.utf8)
    }

    /// Starts an `EVALSHA sha numkeys` command; append exactly `keyCount` keys, then the arguments.
    public func evalSHA(keyCount: Int) -> RESPCommand {
        var command = RESPCommand("EVALSHA")
        // Room for the keys and arguments that follow, so the buffer grows once, not per argument.
        command.reserveCapacity(160 + keyCount * 48)
        command.append(sha1)
        command.append(keyCount)
        return command
    }

    /// The `SCRIPT LOAD source` command.
    public var loadCommand: RESPCommand {
        var command = RESPCommand("SCRIPT")
        command.append("LOAD")
        command.append(source)
        return command
    }
}
