import Logging
import LockyRESP
import LockyRedis
import NIOCore

/// Locks on one Redis server. Every call is one script call: one round trip, atomic on the
/// server. See ``LockKeyspace`` for the key layout and ``RedisLockScripts`` for the scripts.
public struct RedisLockBackend: LockBackend {
    /// `redis`.
    public var name: String { "redis" }
    /// The client the backend talks through.
    public let client: RedisClient
    /// The key layout.
    public let keyspace: LockKeyspace
    private let ownsClient: Bool

    /// Creates a backend over a client you manage (you close it).
    public init(client: RedisClient, keyspace: LockKeyspace) {
        self.client = client
        self.keyspace = keyspace
        self.ownsClient = false
    }

    /// Creates a backend with its own client for `configuration` (closed by ``close()``).
    public init(configuration: RedisConfiguration, keyspace: LockKeyspace, logger: Logger) throws(LockError) {
        do {
            self.client = try RedisClient(configuration: configuration, logger: logger)
        } catch {
            throw LockError(.invalidArgument, "invalid Redis configuration: \(error)")
        }
        self.keyspace = keyspace
        self.ownsClient = true
    }

    public func acquire(_ resources: [String], owner: String, ttl: Duration?) async throws(LockError) -> AcquireReply {
        var command = RedisLockScripts.acquire.evalSHA(keyCount: resources.count * 2)
        appendLockAndFenceKeys(resources, to: &command)
        command.append(owner)
        command.append(ttl?.millisecondsRoundedUp ?? 0)
        let reply = try await run(RedisLockScripts.acquire, command, "acquire")
        var values = ReplyReader(reply)
        if try values.int() == 1 {
            var tokens: [Int64] = []
            tokens.reserveCapacity(resources.count)
            for _ in resources { tokens.append(try values.int()) }
            return .acquired(fencingTokens: tokens)
        }
        let index = Int(try values.int()) - 1
        let holder = try values.holder()
        return .busy(index: index, holder: holder ?? LockHolder(owner: "", remaining: nil))
    }

    public func lock(_ resources: [String], locker: String, ttl: Duration?, force: Bool) async throws(LockError) -> [LockOutcome] {
        var command = RedisLockScripts.lock.evalSHA(keyCount: resources.count * 2)
        appendLockAndFenceKeys(resources, to: &command)
        command.append(locker)
        command.append(ttl?.millisecondsRoundedUp ?? 0)
        command.append(force ? "1" : "0")
        let reply = try await run(RedisLockScripts.lock, command, "lock")
        var values = ReplyReader(reply)
        var outcomes: [LockOutcome] = []
        outcomes.reserveCapacity(resources.count)
        for _ in resources {
            let code = try values.int()
            let owner = try values.optionalString()
            let pttl = try values.int()
            let token = try values.int()
            switch code {
            case 1: outcomes.append(.acquired(fencingToken: token))
            case 2: outcomes.append(.alreadyHeld(fencingToken: token))
            default:
                outcomes.append(.busy(LockHolder(owner: owner ?? "", remaining: Self.remaining(pttl), fencingToken: token)))
            }
        }
        return outcomes
    }

    public func extend(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) async throws(LockError) -> ExtendReply {
        var command = RedisLockScripts.extend.evalSHA(keyCount: resources.count)
        for resource in resources { command.append(keyspace.lockKey(resource)) }
        command.append(owner)
        command.append(ttl.millisecondsRoundedUp)
        command.append(mode == .addTo ? "add" : "set")
        let reply = try await run(RedisLockScripts.extend, command, "extend")
        var values = ReplyReader(reply)
        if try values.int() == 1 { return .extended }
        let index = Int(try values.int()) - 1
        let holderOwner = try values.optionalString()
        let pttl = try values.int()
        return .lost(index: index, holder: holderOwner.map { LockHolder(owner: $0, remaining: Self.remaining(pttl)) })
    }

    public func unlock(_ resources: [String], owner: String?) async throws(LockError) -> [UnlockOutcome] {
        var command = RedisLockScripts.unlock.evalSHA(keyCount: resources.count)
        for resource in resources { command.append(keyspace.lockKey(resource)) }
        command.append(owner ?? "")
        let reply = try await run(RedisLockScripts.unlock, command, "unlock")
        var values = ReplyReader(reply)
        var outcomes: [UnlockOutcome] = []
        outcomes.reserveCapacity(resources.count)
        for _ in resources {
            let code = try values.int()
            let holder = try values.optionalString()
            let pttl = try values.int()
            switch code {
            case 1: outcomes.append(.unlocked)
            case 0: outcomes.append(.notLocked)
            default: outcomes.append(.heldByAnother(LockHolder(owner: holder ?? "", remaining: Self.remaining(pttl))))
            }
        }
        return outcomes
    }

    public func refresh(_ resources: [String], locker: String?, ttl: Duration?) async throws(LockError) -> [RefreshOutcome] {
        var command = RedisLockScripts.refresh.evalSHA(keyCount: resources.count)
        for resource in resources { command.append(keyspace.lockKey(resource)) }
        command.append(locker ?? "")
        command.append(ttl?.millisecondsRoundedUp ?? 0)
        let reply = try await run(RedisLockScripts.refresh, command, "refresh")
        var values = ReplyReader(reply)
        var outcomes: [RefreshOutcome] = []
        outcomes.reserveCapacity(resources.count)
        for _ in resources {
            let code = try values.int()
            let holder = try values.optionalString()
            let pttl = try values.int()
            switch code {
            case 1: outcomes.append(.refreshed)
            case 0: outcomes.append(.notLocked)
            default: outcomes.append(.heldByAnother(LockHolder(owner: holder ?? "", remaining: Self.remaining(pttl))))
            }
        }
        return outcomes
    }

    public func holders(_ resources: [String]) async throws(LockError) -> [LockHolder?] {
        var command = RedisLockScripts.inspect.evalSHA(keyCount: resources.count * 2)
        appendLockAndFenceKeys(resources, to: &command)
        let reply = try await run(RedisLockScripts.inspect, command, "inspect")
        var values = ReplyReader(reply)
        var holders: [LockHolder?] = []
        holders.reserveCapacity(resources.count)
        for _ in resources {
            holders.append(try values.holder())
        }
        return holders
    }

    public func fencedWrite(key: String, value: ByteBuffer, fencingToken: Int64) async throws(LockError) -> FencedWriteOutcome {
        var command = RedisLockScripts.fencedWrite.evalSHA(keyCount: 1)
        command.append(key)
        command.append(value)
        command.append(fencingToken)
        let reply = try await run(RedisLockScripts.fencedWrite, command, "fenced write")
        var values = ReplyReader(reply)
        if try values.int() == 1 { return .accepted }
        return .rejected(highestToken: try values.int())
    }

    public func fencedRead(key: String) async throws(LockError) -> FencedValue? {
        let reply: RESPToken
        do {
            reply = try await client.execute(RESPCommand("HMGET", key, "value", "fence"))
        } catch {
            throw LockError.backend(error, during: "fenced read")
        }
        var values = ReplyReader(reply)
        guard let value = try values.optionalBytes() else { return nil }
        let token = try values.optionalString().flatMap { Int64($0) } ?? 0
        return FencedValue(value: value, highestToken: token)
    }

    public func close() async {
        if ownsClient { await client.close() }
    }

    // MARK: Helpers

    /// Appends the lock keys of all resources, then their fence keys.
    private func appendLockAndFenceKeys(_ resources: [String], to command: inout RESPCommand) {
        let lockKeys = resources.map(keyspace.lockKey)
        command.append(contentsOf: lockKeys)
        for key in lockKeys { command.append(key + ":fence") }
    }

    private func run(_ script: RedisScript, _ command: RESPCommand, _ operation: String) async throws(LockError) -> RESPToken {
        do {
            return try await client.run(script, command)
        } catch {
            throw LockError.backend(error, during: operation)
        }
    }

    /// PTTL → remaining time: -1 means no expiry; -2 (gone) and 0 mean it just expired.
    static func remaining(_ pttl: Int64) -> Duration? {
        pttl == -1 ? nil : .milliseconds(max(pttl, 0))
    }
}
