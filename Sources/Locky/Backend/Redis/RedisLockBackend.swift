import LockyRESP
import LockyRedis
import Logging
import NIOCore

/// Locks on one Redis server. Every call is one script call: one round trip, atomic on the
/// server. See ``LockKeyspace`` for the key layout and `RedisLockScripts.swift` for the scripts.
public struct RedisLockBackend: LockBackend {
    /// `redis`.
    public var name: String { "redis" }
    /// The client the backend talks through.
    public let client: RedisClient
    /// The key layout.
    public let keyspace: LockKeyspace
    private let ownsClient: Bool
    /// Set by ``close()``: every call checks it before it sends anything (the client may be
    /// another's, and stay open).
    private let closed = ClosedFlag()
    /// Whether extend and renew re-create a missing lock key for its owner (Redlock's
    /// re-creating extend, for nodes that restarted empty).
    public internal(set) var recreatesMissingLocks = false
    /// How long a subscription may take to be confirmed (Redlock: the node timeout); nil for
    /// the client's command timeout.
    var subscribeTimeout: Duration?

    /// Creates a backend over a client you manage (you close it). ``close()`` leaves the client
    /// open, but this backend refuses every call from then on.
    public init(client: RedisClient, keyspace: LockKeyspace) {
        client.preload(RedisLockScripts.all)
        self.client = client
        self.keyspace = keyspace
        self.ownsClient = false
    }

    /// Creates a backend with its own client for `configuration` (closed by ``close()``).
    public init(configuration: RedisConfiguration, keyspace: LockKeyspace, logger: Logger) throws(LockError) {
        try self.init(configuration: configuration, keyspace: keyspace, logger: logger, eventLoopGroup: nil)
    }

    /// Creates a backend with its own client, on `eventLoopGroup` (NIO's shared group for nil).
    init(
        configuration: RedisConfiguration, keyspace: LockKeyspace, logger: Logger, eventLoopGroup: (any EventLoopGroup)?
    ) throws(LockError) {
        do {
            if let eventLoopGroup {
                self.client = try RedisClient(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
            } else {
                self.client = try RedisClient(configuration: configuration, logger: logger)
            }
        } catch {
            throw LockError(.invalidArgument, "invalid Redis configuration: \(error)")
        }
        client.preload(RedisLockScripts.all)
        self.keyspace = keyspace
        self.ownsClient = true
    }

    /// Takes every resource for `owner` or none: one `acquire` script call.
    public func acquire(_ resources: [String], owner: String, ttl: Duration?) async throws(LockError) -> AcquireReply {
        try await perform(acquireRequest(resources, owner: owner, ttl: ttl))
    }

    /// ``acquire(_:owner:ttl:)`` waiting at most `replyWait` for the reply (the client's reply
    /// wait limit: the command keeps its place on the connection).
    public func acquire(_ resources: [String], owner: String, ttl: Duration?, replyWait: Duration?) async throws(LockError)
        -> AcquireReply
    {
        try await perform(acquireRequest(resources, owner: owner, ttl: ttl), replyWait: replyWait)
    }

    /// `tag`: the `L` event's attempt tag (Redlock keeps it for the give-back, ``giveBackRequest(_:owner:attempt:)``).
    func acquireRequest(
        _ resources: [String], owner: String, ttl: Duration?, tag: String = LockEventCodec.callTag()
    ) -> RedisLockRequest<AcquireReply> {
        var command = RedisLockScripts.acquire.evalSHA(keyCount: resources.count * 2)
        let tagged = resources.map(LockKeyspace.hasHashTag)
        appendLockAndFenceKeys(resources, tagged, to: &command)
        let milliseconds = ttl?.millisecondsRoundedUp ?? 0
        command.append(owner)
        command.append(milliseconds)
        command.append(keyspace.eventChannel)
        // A tag per attempt: two attempts of one lease that each took a minority are no lock.
        LockEventCodec.appendLocked(
            ttlMilliseconds: milliseconds, who: LeaseOwner.displayName(of: owner), tag: tag,
            resources: resources, tagged: tagged, keyspace: keyspace, to: &command)
        return RedisLockRequest(script: RedisLockScripts.acquire, command: command, operation: "acquire") {
            reply throws(LockError) in
            // One resource acquired: the bare token.
            if case .number(let token) = reply.value { return .acquired(fencingTokens: [token]) }
            var values = ReplyReader(reply)
            let status = try values.int()
            if status < 0 { throw try Self.foreignValue(status, &values, resources) }
            if status == 1 {
                var tokens: [Int64] = []
                tokens.reserveCapacity(resources.count)
                for _ in resources { tokens.append(try values.int()) }
                return .acquired(fencingTokens: tokens)
            }
            let index = Int(try values.int()) - 1
            let holder = try values.holder()
            return .busy(index: index, holder: holder ?? LockHolder(owner: "", remaining: nil))
        }
    }

    /// Locks each resource for `locker`: one `lock` script call, per-resource outcomes.
    public func lock(_ resources: [String], locker: String, ttl: Duration?, force: Bool) async throws(LockError) -> [LockOutcome]
    {
        try await perform(lockRequest(resources, locker: locker, ttl: ttl, force: force))
    }

    /// `tag`: the `L` event's attempt tag (Redlock keeps it for the give-back, ``giveBackRequest(_:owner:attempt:)``).
    func lockRequest(
        _ resources: [String], locker: String, ttl: Duration?, force: Bool, tag: String = LockEventCodec.callTag()
    ) -> RedisLockRequest<[LockOutcome]> {
        var command = RedisLockScripts.lock.evalSHA(keyCount: resources.count * 2)
        let tagged = resources.map(LockKeyspace.hasHashTag)
        appendLockAndFenceKeys(resources, tagged, to: &command)
        let milliseconds = ttl?.millisecondsRoundedUp ?? 0
        command.append(locker)
        command.append(milliseconds)
        command.append(force ? "1" : "0")
        command.append(keyspace.eventChannel)
        // A locker id is a public name (unlike a lease's owner token), so it is the event's holder as it is.
        LockEventCodec.appendLocked(
            ttlMilliseconds: milliseconds, who: locker, tag: tag, resources: resources, tagged: tagged, keyspace: keyspace,
            to: &command)
        command.append(tag)
        command.append(keyspace.wakeChannelPrefix)
        return RedisLockRequest(script: RedisLockScripts.lock, command: command, operation: "lock") { reply throws(LockError) in
            var values = ReplyReader(reply)
            var outcomes: [LockOutcome] = []
            outcomes.reserveCapacity(resources.count)
            for _ in resources {
                let code = try values.int()
                if code < 0 { throw try Self.foreignValue(code, &values, resources) }
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
    }

    /// Resets or adds to the TTL of every resource, only if `owner` still holds them all: one `extend` script call.
    public func extend(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) async throws(LockError)
        -> ExtendReply
    {
        try await perform(extendRequest(resources, owner: owner, ttl: ttl, mode: mode))
    }

    func extendRequest(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) -> RedisLockRequest<ExtendReply> {
        let request = extendReportingRequest(resources, owner: owner, ttl: ttl, mode: mode)
        return RedisLockRequest(script: request.script, command: request.command, operation: request.operation) {
            reply throws(LockError) in try request.parse(reply).reply
        }
    }

    /// ``extendRequest(_:owner:ttl:mode:)`` whose reply also says, when extended, the shortest
    /// time any of the keys now has left (nil from a script that does not say).
    func extendReportingRequest(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode)
        -> RedisLockRequest<(reply: ExtendReply, least: Duration?)>
    {
        var command = RedisLockScripts.extend.evalSHA(keyCount: resources.count)
        for resource in resources { appendKey(of: resource, to: &command) }
        command.append(owner)
        command.append(ttl.millisecondsRoundedUp)
        command.append(mode == .addTo ? "add" : "set")
        command.append(recreatesMissingLocks ? "1" : "0")
        command.append(keyspace.eventChannel)
        command.append(LockEventCodec.attemptTag(owner: owner))
        command.append(keyspace.wakeChannelPrefix)
        return RedisLockRequest(script: RedisLockScripts.extend, command: command, operation: "extend") {
            reply throws(LockError) in
            var values = ReplyReader(reply)
            if try values.int() == 1 {
                // Absent from an older script's `{1}`.
                let least = try? values.int()
                return (.extended, least.map { .milliseconds($0) })
            }
            let index = Int(try values.int()) - 1
            let holderOwner = try values.optionalString()
            let pttl = try values.int()
            return (.lost(index: index, holder: holderOwner.map { LockHolder(owner: $0, remaining: Self.remaining(pttl)) }), nil)
        }
    }

    /// Renews many leases with one `renew` script call.
    public func renew(_ items: [RenewalItem]) async throws(LockError) -> [RenewalResult] {
        guard !items.isEmpty else { return [] }
        return try await perform(renewRequest(items))
    }

    /// Needs at least one item.
    func renewRequest(_ items: [RenewalItem]) -> RedisLockRequest<[RenewalResult]> {
        var command = RedisLockScripts.renew.evalSHA(keyCount: items.count)
        for item in items { appendKey(of: item.resource, to: &command) }
        for item in items { command.append(item.owner) }
        for item in items { command.append(item.ttl.millisecondsRoundedUp) }
        command.append(recreatesMissingLocks ? "1" : "0")
        command.append(keyspace.eventChannel)
        command.append(keyspace.wakeChannelPrefix)
        return RedisLockRequest(script: RedisLockScripts.renew, command: command, operation: "renew") { reply throws(LockError) in
            var values = ReplyReader(reply)
            var results: [RenewalResult] = []
            results.reserveCapacity(items.count)
            for _ in items {
                let code = try values.int()
                let holder = try values.optionalString()
                switch code {
                case 1, 3: results.append(.renewed)
                case 2: results.append(.heldByAnother(owner: holder ?? ""))
                default: results.append(.missing)
                }
            }
            return results
        }
    }

    /// Removes each lock (owner-checked with `owner`): one script call, with the fair hand-off.
    public func unlock(_ resources: [String], owner: String?) async throws(LockError) -> [UnlockOutcome] {
        try await perform(unlockRequest(resources, owner: owner))
    }

    /// ``unlock(_:owner:)`` waiting at most `replyWait` for the reply; `.zero` sends it behind
    /// the commands before it without waiting.
    public func unlock(_ resources: [String], owner: String?, replyWait: Duration?) async throws(LockError)
        -> [UnlockOutcome]
    {
        try await perform(unlockRequest(resources, owner: owner), replyWait: replyWait)
    }

    /// The unlock that gives back what one call took (Redlock: after an attempt without a
    /// quorum): its events carry the tag of the call they give back, marked as a give-back
    /// (``RedlockEventMerger/giveBackTag(of:)``), so two calls' give-backs never add up to a
    /// quorum of `unlocked` reports, and a late grant of a given-back call is known as such.
    func giveBackRequest(_ resources: [String], owner: String, attempt: String) -> RedisLockRequest<[UnlockOutcome]> {
        unlockRequest(resources, owner: owner, tag: RedlockEventMerger.giveBackTag(of: attempt))
    }

    /// `tag`: the events' attempt tag, when not the owner's (``LockEventCodec/callTag()``).
    func unlockRequest(_ resources: [String], owner: String?, tag: String? = nil) -> RedisLockRequest<[UnlockOutcome]> {
        // One resource: the script with the fair hand-off. Several: per-resource outcomes.
        let single = resources.count == 1
        let script = single ? RedisLockScripts.release : RedisLockScripts.unlock
        var command = script.evalSHA(keyCount: single ? 4 : resources.count * 2)
        let tagged = single ? [] : resources.map(LockKeyspace.hasHashTag)
        if single {
            appendFairKeys(of: resources[0], to: &command)
        } else {
            appendKeys(of: resources, tagged, to: &command)
            appendKeys(of: resources, tagged, LockKeyspace.queueSuffix, to: &command)
        }
        command.append(owner ?? "")
        command.append(keyspace.eventChannel)
        command.append(keyspace.wakeChannelPrefix)
        let unconditional = owner?.isEmpty ?? true
        let tag = tag ?? (unconditional ? LockEventCodec.unconditionalTag() : LockEventCodec.attemptTag(owner: owner))
        if single {
            LockEventCodec.appendUnlockedHead(resource: resources[0], tag: tag, keyspace: keyspace, to: &command)
        } else {
            LockEventCodec.appendUnlocked(resources: resources, tagged: tagged, tag: tag, keyspace: keyspace, to: &command)
            command.append(tag)
        }
        return RedisLockRequest(script: script, command: command, operation: "unlock") {
            reply throws(LockError) in
            // The short answers: 1 all unlocked; 0 the one resource was not locked.
            if case .number(let code) = reply.value {
                return Array(repeating: code == 1 ? .unlocked : .notLocked, count: resources.count)
            }
            return try Self.outcomes(
                reply, count: resources.count, done: .unlocked, free: .notLocked, other: UnlockOutcome.heldByAnother)
        }
    }

    /// Resets the TTL of each held lock (only `locker`'s, when given): one `refresh` script call.
    public func refresh(_ resources: [String], locker: String?, ttl: Duration?) async throws(LockError) -> [RefreshOutcome] {
        try await perform(refreshRequest(resources, locker: locker, ttl: ttl))
    }

    func refreshRequest(_ resources: [String], locker: String?, ttl: Duration?) -> RedisLockRequest<[RefreshOutcome]> {
        var command = RedisLockScripts.refresh.evalSHA(keyCount: resources.count)
        for resource in resources { appendKey(of: resource, to: &command) }
        command.append(locker ?? "")
        command.append(ttl?.millisecondsRoundedUp ?? 0)
        command.append(keyspace.eventChannel)
        command.append(LockEventCodec.callTag())
        command.append(keyspace.wakeChannelPrefix)
        return RedisLockRequest(script: RedisLockScripts.refresh, command: command, operation: "refresh") {
            reply throws(LockError) in
            return try Self.outcomes(
                reply, count: resources.count, done: .refreshed, free: .notLocked, other: RefreshOutcome.heldByAnother)
        }
    }

    /// Reads `code, holder, pttl` triples (1 done, 0 free, 2 held by another) into outcomes.
    private static func outcomes<Outcome>(
        _ reply: RESPToken,
        count: Int,
        done: Outcome,
        free: Outcome,
        other: (LockHolder) -> Outcome
    ) throws(LockError) -> [Outcome] {
        var values = ReplyReader(reply)
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(count)
        for _ in 0..<count {
            let code = try values.int()
            let holder = try values.optionalString()
            let pttl = try values.int()
            switch code {
            case 1: outcomes.append(done)
            case 0: outcomes.append(free)
            default: outcomes.append(other(LockHolder(owner: holder ?? "", remaining: Self.remaining(pttl))))
            }
        }
        return outcomes
    }

    /// The holder of each resource with its remaining TTL and fencing token: one `inspect` script call.
    public func holders(_ resources: [String]) async throws(LockError) -> [LockHolder?] {
        try await perform(holdersRequest(resources))
    }

    func holdersRequest(_ resources: [String]) -> RedisLockRequest<[LockHolder?]> {
        var command = RedisLockScripts.inspect.evalSHA(keyCount: resources.count * 2)
        appendLockAndFenceKeys(resources, resources.map(LockKeyspace.hasHashTag), to: &command)
        return RedisLockRequest(script: RedisLockScripts.inspect, command: command, operation: "inspect") {
            reply throws(LockError) in
            var values = ReplyReader(reply)
            var holders: [LockHolder?] = []
            holders.reserveCapacity(resources.count)
            for _ in resources {
                holders.append(try values.holder())
            }
            return holders
        }
    }

    /// Stores `value` if `fencingToken` is at least the highest token seen for `key`: one script call.
    ///
    /// - Throws: ``LockError`` `invalidArgument`, before anything is sent, for a value longer
    ///   than the client takes in a reply (`limits.maximumBulkLength`, 64 MiB by default):
    ///   Redis would store it, and every read of it would fail.
    public func fencedWrite(key: String, value: ByteBuffer, fencingToken: Int64) async throws(LockError) -> FencedWriteOutcome {
        try Self.checkReadable(value, limit: client.configuration.limits.maximumBulkLength)
        return try await perform(fencedWriteRequest(key: key, value: value, fencingToken: fencingToken))
    }

    /// Refuses a fenced value that a reply could not bring back: longer than `limit` bytes.
    static func checkReadable(_ value: ByteBuffer, limit: Int) throws(LockError) {
        guard value.readableBytes > limit else { return }
        throw LockError(
            .invalidArgument,
            "a fenced value of \(value.readableBytes) bytes could not be read back: replies take at most \(limit) (limits.maximumBulkLength)"
        )
    }

    func fencedWriteRequest(key: String, value: ByteBuffer, fencingToken: Int64) -> RedisLockRequest<FencedWriteOutcome> {
        var command = RedisLockScripts.fencedWrite.evalSHA(keyCount: 1)
        command.append(key)
        command.append(value)
        command.append(fencingToken)
        return RedisLockRequest(script: RedisLockScripts.fencedWrite, command: command, operation: "fenced write") {
            reply throws(LockError) in
            var values = ReplyReader(reply)
            if try values.int() == 1 { return .accepted }
            return .rejected(highestToken: try values.int())
        }
    }

    /// ``fencedWriteRequest(key:value:fencingToken:)`` whose reply, when accepted, also says what
    /// the write replaced (Redlock: undone where the quorum rejected it): the value only when it
    /// is at most `previousUpTo` bytes long, else that it is unknown.
    func undoableFencedWriteRequest(
        key: String, value: ByteBuffer, fencingToken: Int64, previousUpTo limit: Int
    ) -> RedisLockRequest<UndoableFencedWrite> {
        var command = RedisLockScripts.fencedWrite.evalSHA(keyCount: 1)
        command.append(key)
        command.append(value)
        command.append(fencingToken)
        command.append(limit)
        return RedisLockRequest(script: RedisLockScripts.fencedWrite, command: command, operation: "fenced write") {
            reply throws(LockError) in
            var values = ReplyReader(reply)
            switch try values.int() {
            case 0:
                return UndoableFencedWrite(
                    outcome: .rejected(highestToken: try values.int()), previousValue: nil, previousWritten: nil)
            case 2:
                return UndoableFencedWrite(outcome: .accepted, previousValue: nil, previousWritten: nil, previousKnown: false)
            default: break
            }
            let previous = try values.optionalBytes()
            return UndoableFencedWrite(outcome: .accepted, previousValue: previous, previousWritten: try values.optionalString())
        }
    }

    /// Undoes the accepted fenced write `write` of `value` with `fencingToken` where it is still
    /// the last write, and raises the fence to `highestToken` (``RedisLockScripts/fencedUndo``).
    func fencedUndoRequest(
        key: String, value: ByteBuffer, fencingToken: Int64, write: UndoableFencedWrite, highestToken: Int64
    ) -> RedisLockRequest<Void> {
        var command = RedisLockScripts.fencedUndo.evalSHA(keyCount: 1)
        command.append(key)
        command.append(fencingToken)
        command.append(value)
        command.append(highestToken)
        command.append(!write.previousKnown ? "2" : write.previousValue == nil ? "0" : "1")
        command.append(write.previousValue ?? ByteBuffer())
        command.append(write.previousWritten ?? "")
        return RedisLockRequest(script: RedisLockScripts.fencedUndo, command: command, operation: "fenced write") { _ in }
    }

    /// Reads `key` if `fencingToken` is at least the highest token seen, raising the fence to it: one script call.
    public func fencedRead(key: String, fencingToken: Int64) async throws(LockError) -> FencedReadOutcome {
        try await perform(fencedReadRequest(key: key, fencingToken: fencingToken))
    }

    func fencedReadRequest(key: String, fencingToken: Int64) -> RedisLockRequest<FencedReadOutcome> {
        var command = RedisLockScripts.fencedRead.evalSHA(keyCount: 1)
        command.append(key)
        command.append(fencingToken)
        return RedisLockRequest(script: RedisLockScripts.fencedRead, command: command, operation: "fenced read") {
            reply throws(LockError) in
            var values = ReplyReader(reply)
            guard try values.int() == 1 else { return .rejected(highestToken: try values.int()) }
            guard let value = try values.optionalBytes() else { return .read(nil) }
            let written = try values.optionalString().flatMap { Int64($0) } ?? 0
            return .read(FencedValue(value: value, highestToken: written))
        }
    }

    /// Raises the fence counters of `resources` to `tokens` where they are lower (Redlock).
    func raiseFences(_ resources: [String], to tokens: [Int64]) async throws(LockError) {
        try await perform(raiseFencesRequest(resources, to: tokens))
    }

    func raiseFencesRequest(_ resources: [String], to tokens: [Int64]) -> RedisLockRequest<Void> {
        var command = RedisLockScripts.raiseFences.evalSHA(keyCount: resources.count)
        for resource in resources { command.append(keyspace.fenceKey(resource)) }
        for token in tokens { command.append(token) }
        return RedisLockRequest(script: RedisLockScripts.raiseFences, command: command, operation: "raise fences") { _ in }
    }

    /// The value stored by the fencing helper, or nil.
    public func fencedRead(key: String) async throws(LockError) -> FencedValue? {
        try refuseIfClosed(during: "fenced read")
        let reply: RESPToken
        do {
            // `written`, not `fence`: a token-checked read raises the fence without writing, and
            // Redlock keeps the value of the newest write among its nodes' answers.
            reply = try await client.execute(RESPCommand("HMGET", key, "value", "written"))
        } catch {
            throw LockError(error, during: "fenced read")
        }
        var values = ReplyReader(reply)
        guard let value = try values.optionalBytes() else { return nil }
        let token = try values.optionalString().flatMap { Int64($0) } ?? 0
        return FencedValue(value: value, highestToken: token)
    }

    /// Subscribes to `<prefix>events` (published by the scripts) and, with `expirations`, to
    /// `__keyevent@<db>__:expired`. Keyspace notifications are switched on with
    /// `CONFIG SET notify-keyspace-events` (adding `E` and `x` to what is set) when the server
    /// allows it; when it does not, the stream starts with an ``LockEvent/error(_:)`` saying what
    /// to configure. The setting is read again every second while the stream runs (where the
    /// server allows `CONFIG GET`): found switched off, it is switched on again when allowed, and
    /// the stream gets a ``LockEvent/gap`` and an ``LockEvent/error(_:)`` saying so.
    public func withEvents<T: Sendable>(expirations: Bool, _ body: (LockEventStream) async throws -> T) async throws -> T {
        // Decoded on the connection's event loop into a buffer per loop over the stream.
        let buffer = LockEventBuffer()
        var subscribed = false
        do {
            // Tagged: the handler that passes on the watcher's news (``BackendEvent``) too.
            return try await withTaggedEventHandler(expirations: expirations, { event, _ in buffer.yield(event) }) {
                subscribed = true
                defer { buffer.finish() }
                return try await body(buffer.eventStream)
            }
        } catch let error as RedisClientError where !subscribed {
            // The subscription itself failed (an ACL without the channels, wrong credentials):
            // a typed lock error, like every other call. The body's own errors pass unchanged.
            throw LockError(error, during: "subscribing to lock events")
        }
    }

    /// Decodes messages on the connection's event loop and hands the events to `handler` there.
    public func withEventHandler<T: Sendable>(
        expirations: Bool,
        _ handler: @escaping @Sendable (LockEvent) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withTaggedEventHandler(
            expirations: expirations,
            { event, _ in
                if case .lock(let event) = event { handler(event) }
            }, body)
    }

    /// Like ``withEventHandler(expirations:_:_:)``, with each event's attempt tag
    /// (``LockEventCodec/attemptTag(owner:)``; empty for gaps, errors and expiries), and the
    /// expiry watcher's news of shortened TTLs.
    func withTaggedEventHandler<T: Sendable>(
        expirations: Bool,
        _ receiver: @escaping @Sendable (BackendEvent, String) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        if closed.isClosed { throw Self.closedClientError }
        let closed = self.closed
        // Closed: silent, as a subscription of a closed client (a borrowed one runs on).
        let handler: @Sendable (BackendEvent, String) -> Void = { event, tag in
            if !closed.isClosed { receiver(event, tag) }
        }
        var channels = [keyspace.eventChannel]
        var expiredChannel: String?
        // Whether to read the flags again while the stream runs, and whether they were off (and
        // said so) at the start.
        var checksNotifications = false
        var reportedOff = false
        if expirations {
            let channel = "__keyevent@\(client.configuration.database)__:expired"
            expiredChannel = channel
            channels.append(channel)
            // Redlock: a stopped node must not hold up the subscription for the command timeout.
            let setup =
                if let subscribeTimeout {
                    await RedisClient.withReplyWaitLimit(subscribeTimeout) { await enableExpiryNotifications() }
                } else {
                    await enableExpiryNotifications()
                }
            if let setupError = setup.error { handler(.lock(.error(setupError)), "") }
            // Nothing to watch where the flags cannot even be read (a restricted ACL): the
            // stream's first event already said what to configure.
            checksNotifications = !setup.cannotRead
            if case .cannotSet = setup { reportedOff = true }
        }
        let keyspace = self.keyspace
        let expiryChannel = expiredChannel
        // After a gap, a restarted server has forgotten `CONFIG SET notify-keyspace-events` (a
        // Redlock node after a rolling restart): a child task switches it on again, then passes
        // the gap on, so whatever the consumer re-checks after the gap is watched again. Gaps
        // that come while it works merge into one (the next pass covers them).
        let (gaps, gapArrived) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            if expiryChannel != nil {
                group.addTask {
                    for await _ in gaps {
                        let setup = await enableExpiryNotifications()
                        handler(.lock(.gap), "")
                        if let error = setup.error { handler(.lock(.error(error)), "") }
                    }
                }
            }
            if checksNotifications {
                // Tells a restarted server (which forgot the flags, and whose gap says so) from
                // an operator who switched them off; one `INFO` per connection, not waited for.
                client.learnServerRunID()
                group.addTask { [reportedOff] in
                    await watchExpiryNotifications({ event, tag in handler(.lock(event), tag) }, reportedOff: reportedOff)
                }
            }
            defer {
                gapArrived.finish()
                group.cancelAll()
            }
            return try await client.subscribe(
                channels: channels,
                timeout: subscribeTimeout,
                handler: { event in
                    switch event {
                    case .gap where expiryChannel != nil:
                        gapArrived.yield()
                    case .gap:
                        handler(.lock(.gap), "")
                    case .message(let message):
                        if let expiryChannel, message.channelName == expiryChannel {
                            // A key that is not UTF-8 is no resource of ours (as in
                            // `lockedResources()`): decoded with its bad bytes replaced, it named
                            // another resource, whose deadline the watcher then forgot.
                            if let key = String(validating: message.payload.readableBytesView, as: UTF8.self),
                                let resource = keyspace.resource(ofLockKey: key)
                            {
                                handler(.lock(.expired(resource: resource)), "")
                            }
                        } else {
                            let decoded = LockEventCodec.decodeAll(message.payload, keyspace: keyspace)
                            for event in decoded.events { handler(event, decoded.tag) }
                        }
                    }
                },
                body
            )
        }
    }

    /// Fair acquire through the resource's queue in Redis: one `acquireFair` script call.
    public func acquireFair(
        _ resource: String, owner: String, ttl: Duration?, waiter: String, waiterTTL: Duration, attempt: Int
    ) async throws(LockError) -> FairAcquireReply {
        try await acquireFair(
            resource, owner: owner, ttl: ttl, waiter: waiter, waiterTTL: waiterTTL, attempt: attempt, replyWait: nil)
    }

    /// ``acquireFair(_:owner:ttl:waiter:waiterTTL:attempt:)`` waiting at most `replyWait` for the reply.
    public func acquireFair(
        _ resource: String, owner: String, ttl: Duration?, waiter: String, waiterTTL: Duration, attempt: Int,
        replyWait: Duration?
    ) async throws(LockError) -> FairAcquireReply {
        var command = RedisLockScripts.acquireFair.evalSHA(keyCount: 4)
        appendFairKeys(of: resource, to: &command)
        let milliseconds = ttl?.millisecondsRoundedUp ?? 0
        command.append(owner)
        command.append(milliseconds)
        command.append(keyspace.eventChannel)
        LockEventCodec.appendLocked(
            ttlMilliseconds: milliseconds, who: LeaseOwner.displayName(of: owner), tag: LockEventCodec.attemptTag(owner: owner),
            resources: CollectionOfOne(resource), tagged: CollectionOfOne(LockKeyspace.hasHashTag(resource)), keyspace: keyspace,
            to: &command)
        command.append(waiter)
        command.append(waiterTTL.millisecondsRoundedUp)
        command.append(attempt)
        command.append(keyspace.wakeChannelPrefix)
        let reply = try await run(RedisLockScripts.acquireFair, command, "queued acquire", replyWait: replyWait)
        var values = ReplyReader(reply)
        switch try values.int() {
        case 1:
            return .acquired(fencingToken: try values.int())
        case 2:
            let token = try values.int()
            return .handedOver(fencingToken: token, remaining: Self.remaining(try values.int()))
        case let status where status < 0:
            throw try Self.foreignValue(status, &values, [resource], during: "queued acquire")
        default:
            let holder = try values.holder()
            let first = try values.int() == 1
            return .queued(holder: holder, first: first)
        }
    }

    /// Removes `waiter` from the fair queue, giving back a lock handed to `owner` meanwhile: one script call.
    public func leaveQueue(_ resource: String, waiter: String, owner: String) async throws(LockError) {
        try await leaveQueue(resource, waiter: waiter, owner: owner, replyWait: nil)
    }

    /// ``leaveQueue(_:waiter:owner:)`` waiting at most `replyWait` for the reply; `.zero` sends
    /// it behind the commands before it without waiting.
    public func leaveQueue(_ resource: String, waiter: String, owner: String, replyWait: Duration?) async throws(LockError) {
        var command = RedisLockScripts.leaveQueue.evalSHA(keyCount: 4)
        appendFairKeys(of: resource, to: &command)
        command.append(waiter)
        command.append(keyspace.eventChannel)
        command.append(keyspace.wakeChannelPrefix)
        command.append(owner)
        LockEventCodec.appendUnlockedHead(
            resource: resource, tag: LockEventCodec.attemptTag(owner: owner), keyspace: keyspace, to: &command)
        _ = try await run(RedisLockScripts.leaveQueue, command, "leave queue", replyWait: replyWait)
    }

    /// Hints decoded on the connection's event loop: `H` events name the next fair waiter.
    /// A fair waiter listens only to its client's wake channel (`<prefix>wake:<client token>`),
    /// where releases address the next waiter directly, so a release wakes one process, not all.
    public func withWakeHandler<T: Sendable>(
        waiter: String?,
        _ handler: @escaping @Sendable (WakeHint) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withTaggedWakeHandler(waiter: waiter, { hint, _ in handler(hint) }, body)
    }

    /// ``withWakeHandler(waiter:_:_:)`` whose subscription waits at most `subscribeWait` (and
    /// never longer than it would without it) for the server's confirmation. A subscription
    /// that times out ends alone: the client's subscriber connection stays for everyone else.
    public func withWakeHandler<T: Sendable>(
        waiter: String?,
        subscribeWait: Duration?,
        _ handler: @escaping @Sendable (WakeHint) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withTaggedWakeHandler(waiter: waiter, subscribeWait: subscribeWait, { hint, _ in handler(hint) }, body)
    }

    /// Like ``withWakeHandler(waiter:subscribeWait:_:_:)``, with each hint's attempt tag
    /// (Redlock wakes waiters only for a release a quorum of nodes reported).
    func withTaggedWakeHandler<T: Sendable>(
        waiter: String? = nil,
        subscribeWait: Duration? = nil,
        _ handler: @escaping @Sendable (WakeHint, String) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        if closed.isClosed { throw Self.closedClientError }
        let keyspace = self.keyspace
        let closed = self.closed
        let channel = waiter.map { keyspace.wakeChannel(forWaiter: $0) } ?? keyspace.eventChannel
        let ownTimeout = subscribeTimeout ?? client.configuration.commandTimeout
        return try await client.subscribe(
            channels: [channel],
            timeout: subscribeWait.map { min($0, ownTimeout) } ?? subscribeTimeout,
            handler: { event in
                // Closed: silent, as a subscription of a closed client (a borrowed one runs on).
                if closed.isClosed { return }
                switch event {
                case .gap: handler(.gap, "")
                case .message(let message):
                    let decoded = LockEventCodec.taggedHints(message.payload, keyspace: keyspace)
                    for hint in decoded.hints { handler(hint, decoded.tag) }
                }
            },
            body
        )
    }

    /// A release hands the lock to the first live queued waiter (see `RedisLockScripts.swift`).
    public var handsOverToWaiters: Bool { true }

    /// The Redis client's event loop: waiting there turns a wake-up into a retry without a thread switch.
    public var preferredTaskExecutor: (any TaskExecutor)? { client.taskExecutor }

    /// How often an event stream with expirations reads `notify-keyspace-events` again
    /// (``watchExpiryNotifications(_:)``): one `CONFIG GET` per interval and stream.
    static let notificationCheckInterval: Duration = .seconds(1)

    /// Reads `notify-keyspace-events` every ``notificationCheckInterval`` while the stream
    /// runs: an operator who switches keyspace notifications off (`CONFIG SET
    /// notify-keyspace-events ""`) silenced every `expired` event without a word. Flags found
    /// missing are switched on again when the server allows it, as at the start, and the stream
    /// gets a ``LockEvent/gap`` (the expiries in between were missed) and an
    /// ``LockEvent/error(_:)`` saying what happened and what to configure; once per time they
    /// are found off, not every interval while they stay off. Ends when the task is cancelled.
    private func watchExpiryNotifications(
        _ handler: @escaping @Sendable (LockEvent, String) -> Void, reportedOff: Bool
    ) async {
        var reported = reportedOff
        var knownRunID = client.serverRunID
        while true {
            do {
                try await Task.sleep(for: Self.notificationCheckInterval)
            } catch {
                return
            }
            // Closed: nothing more is sent (a borrowed client stays open under the stream).
            if closed.isClosed { return }
            let check = await enableExpiryNotifications()
            // Known before the reply to any command of a new connection.
            let runID = client.serverRunID
            let restarted = knownRunID != nil && runID != nil && runID != knownRunID
            if runID != nil { knownRunID = runID }
            switch check {
            case .alreadyOn:
                reported = false
            case .switchedOn where restarted:
                // A restarted server forgot them; its subscription's gap already says events
                // were missed (and switches them on too).
                reported = false
            case .switchedOn(let flags):
                handler(.gap, "")
                handler(
                    .error(
                        LockError(
                            .serverError,
                            "keyspace notifications were switched off (notify-keyspace-events was \"\(flags)\"): "
                                + "switched on again; expired events in between were missed. Set "
                                + "`notify-keyspace-events Ex` in redis.conf so that they stay on")), "")
                reported = false
            case .cannotSet(let error):
                if !reported {
                    handler(.gap, "")
                    handler(.error(error), "")
                }
                reported = true
            case .cannotRead:
                // Permission to read the flags was taken away: nothing more to learn here.
                return
            case .unreachable:
                // The subscription reports the lost connection (a gap), which checks again.
                break
            }
        }
    }

    /// Makes sure `notify-keyspace-events` includes `E` and `x`; says what it found and did.
    private func enableExpiryNotifications() async -> KeyspaceNotificationSetup {
        if closed.isClosed { return .unreachable(LockError(Self.closedClientError, during: "enabling keyspace notifications")) }
        let flags: String
        do {
            let current = try await client.execute(RESPCommand("CONFIG", "GET", "notify-keyspace-events"))
            var read = ""
            if case .array(let items) = current.value {
                var iterator = items.makeIterator()
                _ = iterator.next()
                read = (try? iterator.next()?.decode(as: String.self)) ?? ""
            } else if case .map(let map) = current.value {
                for entry in map { read = (try? entry.value.decode(as: String.self)) ?? "" }
            }
            flags = read
        } catch {
            return error.serverError != nil ? .cannotRead(refusal(error)) : .unreachable(unreachable(error))
        }
        // `A` means every class but `m` and `n`, so it already includes `x`.
        var wanted = flags
        if !wanted.contains("E") { wanted += "E" }
        if !wanted.contains("x") && !wanted.contains("A") { wanted += "x" }
        guard wanted != flags else { return .alreadyOn }
        do {
            _ = try await client.execute(RESPCommand("CONFIG", "SET", "notify-keyspace-events", wanted))
            return .switchedOn(from: flags)
        } catch {
            return error.serverError != nil ? .cannotSet(refusal(error)) : .unreachable(unreachable(error))
        }
    }

    /// The error of a server that refused `CONFIG GET` or `CONFIG SET`: what to configure.
    private func refusal(_ error: RedisClientError) -> LockError {
        LockError(
            .serverError,
            "cannot enable keyspace notifications (\(error.code)); expired events need `notify-keyspace-events Ex` "
                + "in redis.conf, or permission for CONFIG GET/SET",
            underlying: error
        )
    }

    /// The error of a server that could not be reached (the subscription reports it too).
    private func unreachable(_ error: RedisClientError) -> LockError {
        LockError(error, during: "enabling keyspace notifications")
    }

    /// Closes the backend, and the Redis client if this backend created it. Idempotent and final.
    ///
    /// From then on every call fails at once with ``LockError`` `backendUnavailable` whose
    /// ``LockError/underlying`` error has the code `closed` (and was never sent), so it changes
    /// nothing: the locks stay in Redis until their TTLs end. That holds for a backend over a
    /// client you manage (``init(client:keyspace:)``) too: the client stays open for you, but
    /// this backend sends nothing more through it. Subscriptions end without a word: a handler
    /// of ``withEventHandler(expirations:_:_:)`` or ``withWakeHandler(waiter:_:_:)`` gets no
    /// more events, and a ``withEvents(expirations:_:)`` stream stays open, silent, until its
    /// body returns. ``LockClient/close()`` ends the waits and event streams of its own calls
    /// at once. Commands in flight on a client this backend created fail with `closed`, their
    /// `RedisClientError.mayHaveRun` set; on a client you manage they get their answers.
    public func close() async {
        closed.close()
        if ownsClient { await client.close() }
    }

    /// Whether ``close()`` was called (on this backend or a copy of it).
    var isClosed: Bool { closed.isClosed }

    /// What a closed backend answers, unsent: the error of a closed client.
    static let closedClientError = RedisClientError(.closed, "the backend is closed", mayHaveRun: false)

    /// Throws the closed client's error for `operation` once ``close()`` was called.
    func refuseIfClosed(during operation: String) throws(LockError) {
        if closed.isClosed { throw LockError(Self.closedClientError, during: operation) }
    }

    // MARK: Helpers

    /// Appends the lock key of `resource` (``LockKeyspace/lockKey(_:)``), followed by `suffix`
    /// for the resource's other keys, written from its parts straight into the command:
    /// building each key as a String first was most of the cost of a 100-resource request.
    private func appendKey(of resource: String, _ suffix: String = "", to command: inout RESPCommand) {
        appendKey(of: resource, tagged: LockKeyspace.hasHashTag(resource), suffix, to: &command)
    }

    /// Appends the key of `resource` with `suffix`, written in place from its parts; `tagged`
    /// is ``LockKeyspace/hasHashTag(_:)`` of it.
    private func appendKey(of resource: String, tagged: Bool, _ suffix: String, to command: inout RESPCommand) {
        let keyspace = self.keyspace
        command.appendBulkString(length: keyspace.lockKeyLength(of: resource, tagged: tagged) + suffix.utf8.count) {
            writer in
            writer.writeLockKey(of: resource, tagged: tagged, in: keyspace)
            writer.write(suffix)
        }
    }

    /// Appends the key of each resource with `suffix`; `tagged[i]` is
    /// ``LockKeyspace/hasHashTag(_:)`` of `resources[i]`, scanned once per request.
    private func appendKeys(of resources: [String], _ tagged: [Bool], _ suffix: String = "", to command: inout RESPCommand) {
        for (resource, tagged) in zip(resources, tagged) { appendKey(of: resource, tagged: tagged, suffix, to: &command) }
    }

    /// The four keys of a resource that the fair scripts take, in their order: lock, fence,
    /// queue, waiters.
    private func appendFairKeys(of resource: String, to command: inout RESPCommand) {
        // Four calls, not a loop over an array of suffixes: this is every release's path.
        let tagged = LockKeyspace.hasHashTag(resource)
        appendKey(of: resource, tagged: tagged, "", to: &command)
        appendKey(of: resource, tagged: tagged, LockKeyspace.fenceSuffix, to: &command)
        appendKey(of: resource, tagged: tagged, LockKeyspace.queueSuffix, to: &command)
        appendKey(of: resource, tagged: tagged, LockKeyspace.waitersSuffix, to: &command)
    }

    /// Appends the lock keys, then the fence keys.
    private func appendLockAndFenceKeys(_ resources: [String], _ tagged: [Bool], to command: inout RESPCommand) {
        appendKeys(of: resources, tagged, to: &command)
        appendKeys(of: resources, tagged, LockKeyspace.fenceSuffix, to: &command)
    }

    /// Sends `request` and reads its reply, waiting at most `replyWait` for it when given
    /// (``RedisClient/withReplyWaitLimit(_:_:)``; without it, no task-local is set: the hot path).
    func perform<Reply>(_ request: RedisLockRequest<Reply>, replyWait: Duration? = nil) async throws(LockError) -> Reply {
        try refuseIfClosed(during: request.operation)
        let reply: Result<RESPToken, RedisClientError>
        if let replyWait {
            reply = await RedisClient.withReplyWaitLimit(replyWait) { await send(request) }
        } else {
            reply = await send(request)
        }
        switch reply {
        case .success(let token): return try request.parse(token)
        case .failure(let error): throw LockError(error, during: request.operation)
        }
    }

    /// Sends `request` and waits for its reply.
    private func send<Reply>(_ request: RedisLockRequest<Reply>) async -> Result<RESPToken, RedisClientError> {
        do throws(RedisClientError) {
            if let script = request.script { return .success(try await client.run(script, request.command)) }
            return .success(try await client.execute(request.command))
        } catch {
            return .failure(error)
        }
    }

    private func run(
        _ script: RedisScript, _ command: RESPCommand, _ operation: String, replyWait: Duration? = nil
    ) async throws(LockError) -> RESPToken {
        try await perform(
            RedisLockRequest(script: script, command: command, operation: operation) { reply throws(LockError) in reply },
            replyWait: replyWait)
    }

    /// The error of a script's `{-1, index}` (a lock key of another type) or `{-2, index}` (a
    /// fence key that holds no counter); `values` is past the status.
    private static func foreignValue(
        _ status: Int64, _ values: inout ReplyReader, _ resources: [String], during operation: String? = nil
    ) throws(LockError) -> LockError {
        let index = Int(try values.int()) - 1
        let resource = resources.indices.contains(index) ? resources[index] : nil
        return status == -2
            ? .foreignFenceValue(resource, during: operation) : .foreignLockValue(resource, during: operation)
    }

    /// PTTL → remaining time: -1 means no expiry; -2 (gone) and 0 mean it just expired.
    static func remaining(_ pttl: Int64) -> Duration? {
        pttl == -1 ? nil : .milliseconds(max(pttl, 0))
    }
}
