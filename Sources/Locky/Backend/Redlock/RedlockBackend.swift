import LockyRESP
import LockyRedis
import Logging
import NIOCore
import Synchronization

/// Locks on a majority of N independent Redis masters: the Redlock algorithm of the Redis
/// "Distributed Locks with Redis" spec and the seed node-redlock.
///
/// Every operation runs the single-node scripts of ``RedisLockBackend`` on all nodes at once,
/// each node answering within ``RedlockConfiguration/nodeTimeout``, and counts the answers
/// (`RedlockTally`): an acquire holds when a quorum (`N / 2 + 1`) granted it; otherwise it is
/// released on every node that may have granted it. ``LockClient`` adds the rest of the spec:
/// the validity `ttl − elapsed − (driftFactor × ttl + 2 ms)` measured from the start of the
/// attempt that succeeded, and retries after a delay with jitter.
///
/// - A node that does not answer in time keeps its connection: a release sent to it next waits
///   behind the acquire it follows, so a release never overtakes an acquire (no orphaned keys).
/// - Fencing tokens: each node counts on its own; a lease gets the highest token a granting
///   node issued, and every granting node that issued less is raised to it before the lease is
///   handed over (the nodes that answered busy too, best effort; a node not waited for, when
///   its reply comes: `RedlockLateGrants`), so a quorum knows it. Tokens
///   then strictly increase per resource as long as the nodes that did not learn the last token
///   and those that lost their counter since (restarted empty) stay a minority; see the
///   README's safety model.
/// - Node failures that do not break the quorum are reported as ``LockEvent/error(_:)`` events
///   on every event stream of the backend, and logged at debug; never swallowed.
/// - Events are passed on once, when a quorum of nodes reported them (`RedlockEventMerger`);
///   wake-ups of waiting acquires come when a quorum of nodes reported a release
///   (`RedlockWakeMerger`), so a minority grant given back after a split vote wakes nobody.
/// - Nodes that are one server under two addresses are refused by the `run_id` each connection
///   learns as it opens (`RedlockNodeIdentities`): every operation then fails with
///   `invalidArgument`, granting nothing. Without `INFO` (an ACL without `+info`) only the
///   configuration's address check applies.
/// - Fair waiting is not available on Redlock.
public struct RedlockBackend: LockBackend {
    /// `redlock`.
    public var name: String { "redlock" }
    /// The key layout (the same on every node).
    public let keyspace: LockKeyspace
    /// The nodes' addresses, in configuration order.
    public let nodeAddresses: [String]
    /// How long one node may take to answer.
    public let nodeTimeout: Duration
    let nodes: [RedisLockBackend]
    let tally: RedlockTally
    let identities: RedlockNodeIdentities
    let failures = RedlockFailureListeners()
    private let logger: Logger

    /// Creates a backend with one client per node (closed by ``close()``).
    public init(configuration: RedlockConfiguration, keyspace: LockKeyspace, logger: Logger) throws(LockError) {
        try configuration.validate()
        var nodes: [RedisLockBackend] = []
        // All nodes on one event loop: a fan-out's replies wake one thread, and a task running
        // there (``preferredTaskExecutor``) resumes without a thread switch.
        var loop: (any EventLoop)?
        for node in configuration.nodes {
            let backend = try RedisLockBackend(configuration: node, keyspace: keyspace, logger: logger, eventLoopGroup: loop)
            loop = loop ?? backend.client.eventLoop
            nodes.append(backend)
        }
        self.init(nodes: nodes, configuration: configuration, keyspace: keyspace, logger: logger)
    }

    /// Creates a backend over clients you manage (you close them), one per independent node.
    /// ``close()`` leaves the clients open, but this backend refuses every call from then on.
    public init(
        clients: [RedisClient],
        keyspace: LockKeyspace,
        nodeTimeout: Duration = .milliseconds(100),
        recreateMissingLocks: Bool = false,
        logger: Logger = Logger(label: "locky", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws(LockError) {
        let configuration = RedlockConfiguration(
            nodes: clients.map(\.configuration), nodeTimeout: nodeTimeout, recreateMissingLocks: recreateMissingLocks)
        try configuration.validate()
        let nodes = clients.map { RedisLockBackend(client: $0, keyspace: keyspace) }
        self.init(nodes: nodes, configuration: configuration, keyspace: keyspace, logger: logger)
    }

    private init(
        nodes: [RedisLockBackend],
        configuration: RedlockConfiguration,
        keyspace: LockKeyspace,
        logger: Logger
    ) {
        self.nodes = nodes.map { node in
            var node = node
            node.recreatesMissingLocks = configuration.recreateMissingLocks
            node.subscribeTimeout = configuration.nodeTimeout
            return node
        }
        self.keyspace = keyspace
        self.nodeAddresses = configuration.nodes.map(\.address.description)
        self.nodeTimeout = configuration.nodeTimeout
        self.tally = RedlockTally(nodes: nodeAddresses)
        self.identities = RedlockNodeIdentities(nodes: nodeAddresses)
        // Each connection then learns its server's run_id as it opens, ahead of any command.
        if nodes.count > 1 { for node in nodes { node.client.learnServerRunID() } }
        self.logger = logger
    }

    /// How many nodes must agree.
    public var quorum: Int { tally.quorum }

    /// While a waiting acquire misses a node's wake subscription, how often it tries again
    /// (``withWakeHandler(waiter:_:_:)``): 200 ms by default, the configuration's `retry.delay`
    /// (at least 10 ms) when ``LockClient`` creates the backend.
    public var degradedWakeInterval: Duration = .milliseconds(200)

    /// The first node's event loop, when every node runs there (as with the configuration
    /// initializer): waiting acquires run on it, so a fan-out costs no thread switch.
    public var preferredTaskExecutor: (any TaskExecutor)? {
        let first = nodes[0].client
        guard nodes.allSatisfy({ $0.client.eventLoop === first.eventLoop }) else { return nil }
        return first.taskExecutor
    }

    /// Whether extend and renewal re-create keys on nodes that lost them.
    public var recreatesMissingLocks: Bool { nodes[0].recreatesMissingLocks }

    /// One single-node backend per node, in configuration order (for inspection, e.g. `SCAN`).
    public var nodeBackends: [RedisLockBackend] { nodes }

    // MARK: Lease API

    /// Takes every resource on a quorum of nodes (all nodes at once), or releases what it got and answers busy or throws `quorumNotReached`.
    public func acquire(_ resources: [String], owner: String, ttl: Duration?) async throws(LockError) -> AcquireReply {
        try await acquire(resources, owner: owner, ttl: ttl, replyWait: nil)
    }

    /// ``acquire(_:owner:ttl:)`` whose fan-out waits for each node at most `replyWait` when that
    /// is shorter than the node timeout (a waiting acquire near its deadline). The nodes not
    /// heard from in time count as timed out, and get the give-back in its place behind the
    /// acquire, as always.
    public func acquire(_ resources: [String], owner: String, ttl: Duration?, replyWait: Duration?) async throws(LockError)
        -> AcquireReply
    {
        let tally = self.tally
        let lateGrants = RedlockLateGrants()
        let count = resources.count
        let limit = replyWait.map { min($0, nodeTimeout) }
        // The give-backs carry it: a node's late grant of a given-back attempt is no `locked`.
        let tag = LockEventCodec.callTag()
        let (replies, pending) = try await query(
            request.acquireRequest(resources, owner: owner, ttl: ttl, tag: tag),
            replyWait: limit,
            until: { if case .acquired = tally.acquire($0) { true } else { false } },
            late: { [self] node, reply in
                let issued: [Int64?]
                switch reply {
                case .acquired(let tokens): issued = tokens
                case .busy: issued = Array(repeating: nil, count: count)
                }
                if let tokens = lateGrants.arrived(node: node, tokens: issued) { raiseLate(node, resources, to: tokens) }
            }
        ) { replies in
            await giveBack(
                request.giveBackRequest(resources, owner: owner, attempt: tag), to: Array(replies.indices),
                answered: replies)
        }
        let decision = tally.acquire(replies)
        if case .acquired(let tokens, _) = decision {
            for node in lateGrants.decide(tokens) { raiseLate(node, resources, to: tokens) }
        } else {
            _ = lateGrants.decide(nil)
        }
        switch decision {
        case .acquired(let tokens, let raise):
            if !raise.isEmpty {
                let granted = replies.filter { if case .success(.acquired) = $0 { return true } else { return false } }.count
                // The nodes that answered busy too, best effort: more nodes that know the token
                // leave fewer for a restart to take it from.
                let targets = raise + replies.indices.filter { replies[$0].isBusyAcquire }
                let raised = await fanOut(to: targets, replyWait: limit) { _, node async throws(LockError) in
                    try await node.raiseFences(resources, to: tokens)
                }
                let known = granted - raise.count + raised.prefix(raise.count).filter(\.isSuccess).count
                guard known >= quorum else {
                    await giveBack(
                        request.giveBackRequest(resources, owner: owner, attempt: tag), to: Array(replies.indices),
                        answered: replies)
                    // Every node's answer, in node order: the raise where one was sent, else the acquire.
                    let answers = replies.indices.map { node -> Result<RedlockNodeOutcome.Result, LockError> in
                        if let position = raise.firstIndex(of: node) { return raised[position].map { _ in .granted } }
                        return replies[node].map(Self.classify)
                    }
                    throw tally.quorumError("acquire (raising fencing tokens)", answers, resource: resources.first) { $0 }
                }
            }
            reportFailures("acquire", replies, Self.classify, except: pending)
            return .acquired(fencingTokens: tokens)
        case .busy(let index, let holder):
            await giveBack(
                request.giveBackRequest(resources, owner: owner, attempt: tag),
                to: replies.indices.filter { !replies[$0].isBusyAcquire },
                answered: replies)
            return .busy(index: index, holder: holder)
        case .failed:
            await giveBack(
                request.giveBackRequest(resources, owner: owner, attempt: tag),
                to: replies.indices.filter { !replies[$0].isBusyAcquire },
                answered: replies)
            try throwIfCancelled(replies)
            throw tally.quorumError("acquire", replies, resource: resources.count == 1 ? resources[0] : nil, Self.classify)
        }
    }

    /// Extends on every node; succeeds when a quorum extended (re-creating lost keys with `recreateMissingLocks`).
    public func extend(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) async throws(LockError)
        -> ExtendReply
    {
        try await extend(resources, owner: owner, ttl: ttl, mode: mode).reply
    }

    /// Adds `amount` to each node's expiry; succeeds when a quorum extended, and answers how long
    /// that quorum surely holds every resource: each node adds to its own expiry, and one that
    /// missed an earlier extend or renewal (its bytes lost, its reply timed out) is behind the
    /// others, so the lease's validity plus `amount` can exceed what this quorum holds.
    public func extend(_ resources: [String], owner: String, adding amount: Duration) async throws(LockError)
        -> (reply: ExtendReply, lastsAtLeast: Duration?)
    {
        try await extend(resources, owner: owner, ttl: amount, mode: .addTo)
    }

    /// The extend on every node, and, when extended, the time left that a quorum of the nodes
    /// that extended reported at least (`RedlockTally.extendedFor(_:)`).
    private func extend(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) async throws(LockError)
        -> (reply: ExtendReply, lastsAtLeast: Duration?)
    {
        let tally = self.tally
        let (answers, pending) = try await query(
            request.extendReportingRequest(resources, owner: owner, ttl: ttl, mode: mode),
            until: { tally.extend($0.map { $0.map(\.reply) }) == .extended })
        let replies = answers.map { $0.map(\.reply) }
        guard let reply = tally.extend(replies) else {
            try throwIfCancelled(replies)
            throw tally.quorumError("extend", replies, resource: resources.count == 1 ? resources[0] : nil, Self.classify)
        }
        guard reply == .extended else { return (reply, nil) }
        reportFailures("extend", replies, Self.classify, except: pending)
        return (reply, tally.extendedFor(answers))
    }

    /// Renews many leases on every node; each item is decided by its own quorum.
    public func renew(_ items: [RenewalItem]) async throws(LockError) -> [RenewalResult] {
        guard !items.isEmpty else { return [] }
        let tally = self.tally
        // Early once every item is renewed or lost on the replies in (more replies cannot
        // change either); an undecided item waits for the others, as before.
        let (replies, pending) = try await query(
            request.renewRequest(items),
            until: { replies in items.indices.allSatisfy { tally.renewal(replies, index: $0) != nil } })
        var results: [RenewalResult] = []
        results.reserveCapacity(items.count)
        // Each lease is decided on its own: one without a quorum either way must not hold up
        // the renewal of the others in the batch.
        for index in items.indices {
            results.append(tally.renewal(replies, index: index) ?? .unknown)
        }
        if results.allSatisfy({ $0 == .unknown }) {
            try throwIfCancelled(replies)
            throw tally.quorumError("renew", replies, resource: items[0].resource) { results in
                Self.classify(results.first ?? .missing)
            }
        }
        reportFailures("renew", replies, { _ in .granted }, except: pending)
        return results
    }

    /// Removes each lock on every node; the outcome is what a quorum answered: unlocked only
    /// when the nodes that did not answer cannot hold it on a quorum, else `quorumNotReached`
    /// with every node's answer.
    ///
    /// Unconditional (`owner` nil), it answers unlocked when any node removed a key, also keys
    /// that made no lock (different owners' keys on single nodes): the nodes' replies do not
    /// name the owner they removed.
    public func unlock(_ resources: [String], owner: String?) async throws(LockError) -> [UnlockOutcome] {
        try await unlock(resources, owner: owner, replyWait: nil)
    }

    /// ``unlock(_:owner:)`` waiting for each node at most `replyWait` when that is shorter than
    /// the node timeout; `.zero` sends it to every node, each behind what it was sent before,
    /// without waiting (it then answers `quorumNotReached`).
    public func unlock(_ resources: [String], owner: String?, replyWait: Duration?) async throws(LockError)
        -> [UnlockOutcome]
    {
        let tally = self.tally
        // Early only when every resource is unlocked for good: "not locked" or "held by another"
        // could still turn into "unlocked" with a node not heard from yet, and "unlocked" into
        // "held by another" (`RedlockTally.unlockIsFinal`).
        let (replies, pending) = try await query(
            request.unlockRequest(resources, owner: owner),
            replyWait: replyWait.map { min($0, nodeTimeout) },
            until: { replies in resources.indices.allSatisfy { tally.unlockIsFinal(replies, index: $0) } })
        var outcomes: [UnlockOutcome] = []
        outcomes.reserveCapacity(resources.count)
        for index in resources.indices {
            guard let outcome = tally.unlock(replies, index: index) else {
                try throwIfCancelled(replies)
                throw tally.quorumError(
                    "unlock", replies, resource: resources[index],
                    summary: "the nodes that did not answer may still hold it"
                ) { outcomes in
                    Self.answer(outcomes, at: index) { Self.classify($0) }
                }
            }
            outcomes.append(outcome)
        }
        reportFailures("unlock", replies, { _ in .granted }, except: pending)
        return outcomes
    }

    // MARK: Locker API

    /// Locks each resource for `locker` where a quorum of nodes grants it; gives back the minority grants of the others.
    public func lock(_ resources: [String], locker: String, ttl: Duration?, force: Bool) async throws(LockError) -> [LockOutcome]
    {
        let tally = self.tally
        // Early only when every resource is locked on a quorum and whether it was newly taken is
        // settled (`RedlockTally.lockIsFinal`); a node not heard from then counts as one that
        // failed (never raised; given back to only when the call ends undecided). Busy or
        // undecided resources wait for every node: an undecided one may still be decided, and
        // for a busy one, each node not heard from would get the give-back of every busy
        // resource (it may have taken them), a command more on healthy but slower nodes.
        let lateGrants = RedlockLateGrants()
        let tag = LockEventCodec.callTag()
        let (replies, pending) = try await query(
            request.lockRequest(resources, locker: locker, ttl: ttl, force: force, tag: tag),
            until: { replies in resources.indices.allSatisfy { tally.lockIsFinal(replies, index: $0) } },
            late: { [self] node, outcomes in
                if let tokens = lateGrants.arrived(node: node, tokens: outcomes.map(\.token)) {
                    raiseLate(node, resources, to: tokens)
                }
            }
        ) { replies in
            await giveBackNewlyTaken(resources, locker: locker, tag: tag, replies: replies)
        }
        var outcomes: [LockOutcome] = []
        var busy: [Int] = []
        var undecided = false
        // Per lagging node, the fences it must raise.
        var raises: [Int: (resources: [String], tokens: [Int64])] = [:]
        var lagging: [Int: [Int]] = [:]
        for index in resources.indices {
            switch tally.lock(replies, index: index) {
            case .locked(let token, let fresh, let raise):
                outcomes.append(fresh ? .acquired(fencingToken: token) : .alreadyHeld(fencingToken: token))
                lagging[index] = raise
                // The nodes held by another too, best effort (not counted: see ``acquire``).
                for node in raise + replies.indices.filter({ replies[$0].heldByAnother(at: index) }) {
                    raises[node, default: ([], [])].resources.append(resources[index])
                    raises[node, default: ([], [])].tokens.append(token)
                }
            case .busy(let holder):
                outcomes.append(.busy(holder))
                busy.append(index)
            case .failed:
                undecided = true
            }
        }
        // A node not waited for is raised when its reply comes (only when every resource is locked).
        let handedOut = outcomes.compactMap(\.token)
        for node in lateGrants.decide(handedOut.count == resources.count ? handedOut : nil) {
            raiseLate(node, resources, to: handedOut)
        }
        if !undecided, !raises.isEmpty {
            let targets = raises.keys.sorted()
            let plan = raises
            let raised = await fanOut(to: targets) { node, backend async throws(LockError) in
                guard let raise = plan[node] else { return }
                try await backend.raiseFences(raise.resources, to: raise.tokens)
            }
            let unraised = Set(targets.indices.filter { !raised[$0].isSuccess }.map { targets[$0] })
            for (index, nodes) in lagging where !nodes.isEmpty {
                let holding = replies.filter { $0.holdsLock(at: index) }.count
                if holding - nodes.filter(unraised.contains).count < quorum { undecided = true }
            }
        }
        if undecided {
            await giveBackNewlyTaken(resources, locker: locker, tag: tag, replies: replies)
            try throwIfCancelled(replies)
            throw tally.quorumError("lock", replies, resource: resources.count == 1 ? resources[0] : nil) { outcomes in
                if let busy = outcomes.first(where: { !$0.isLocked }) { return .heldByAnother(Self.holder(busy)) }
                return .granted
            }
        }
        // Busy resources: give back what some nodes granted, and what a node that did not
        // answer may have granted (a locker lock often has no TTL: it would stay for good).
        let unanswered = replies.indices.filter { !replies[$0].isSuccess }
        let partial = busy.filter { index in !unanswered.isEmpty || replies.contains { $0.tookLock(at: index) } }
        if !partial.isEmpty {
            let names = partial.map { resources[$0] }
            let tookSome = replies.indices.filter { node in
                !replies[node].isSuccess || partial.contains { replies[node].tookLock(at: $0) }
            }
            await giveBack(
                request.giveBackRequest(names, owner: locker, attempt: tag), to: tookSome, answered: replies)
        }
        reportFailures("lock", replies, { _ in .granted }, except: pending)
        return outcomes
    }

    /// Nothing a lock call newly took is kept when its outcome is unknown: undoes what a node
    /// took, and what a failed node may have taken unless it was held before. A resource the
    /// locker already held on a quorum before the call is kept. A node that answered with a
    /// server error took nothing (the script refused before it wrote: a key of another type),
    /// so when no node may have taken a resource, a lock the locker already held stays.
    private func giveBackNewlyTaken(
        _ resources: [String], locker: String, tag: String, replies: [Result<[LockOutcome], LockError>]
    ) async {
        let unknown = replies.contains { $0.mayHaveTaken }
        let undo = resources.indices.filter { index in
            let heldBefore = replies.filter { $0.alreadyHeldLock(at: index) }.count
            guard heldBefore < quorum else { return false }
            return replies.contains { $0.tookLock(at: index) } || (heldBefore == 0 && unknown)
        }
        guard !undo.isEmpty else { return }
        let names = undo.map { resources[$0] }
        await giveBack(
            request.giveBackRequest(names, owner: locker, attempt: tag), to: Array(replies.indices),
            answered: replies)
    }

    /// Resets the TTL of each held lock on every node; the outcome is what a quorum answered.
    ///
    /// Without a `locker`, the holder a quorum names for each resource is refreshed, owner-checked
    /// (``holders(_:)`` first, one more round trip, then one per distinct holder): a node's key of
    /// another owner (a minority left by a split vote or a crash) is no lock, and refreshing it
    /// reported a resource nobody holds as refreshed and, without a TTL, kept that key for good.
    public func refresh(_ resources: [String], locker: String?, ttl: Duration?) async throws(LockError) -> [RefreshOutcome] {
        guard let locker else { return try await refreshQuorumHolders(resources, ttl: ttl) }
        let replies = try await query(request.refreshRequest(resources, locker: locker, ttl: ttl))
        var outcomes: [RefreshOutcome] = []
        for index in resources.indices {
            guard let outcome = tally.refresh(replies, index: index) else {
                try throwIfCancelled(replies)
                throw tally.quorumError("refresh", replies, resource: resources[index]) { outcomes in
                    Self.answer(outcomes, at: index) { Self.classify($0) }
                }
            }
            outcomes.append(outcome)
        }
        reportFailures("refresh", replies) { _ in .granted }
        return outcomes
    }

    /// The unconditional refresh: each resource's quorum holder, refreshed owner-checked; free
    /// ones are left alone. One whose holder changed in between answers held by another.
    private func refreshQuorumHolders(_ resources: [String], ttl: Duration?) async throws(LockError) -> [RefreshOutcome] {
        let holders = try await holders(resources)
        var outcomes = [RefreshOutcome](repeating: .notLocked, count: resources.count)
        // Byte for byte, as Redis compares owners; in the order first seen.
        var groups: [ExactName: [Int]] = [:]
        var owners: [ExactName] = []
        for (index, holder) in holders.enumerated() {
            guard let holder else { continue }
            let owner = ExactName(holder.owner)
            if groups[owner] == nil { owners.append(owner) }
            groups[owner, default: []].append(index)
        }
        for owner in owners {
            let indices = groups[owner] ?? []
            let refreshed = try await refresh(indices.map { resources[$0] }, locker: owner.string, ttl: ttl)
            for (index, outcome) in zip(indices, refreshed) { outcomes[index] = outcome }
        }
        return outcomes
    }

    /// The holder a quorum of nodes names for each resource; nil only when the silent nodes could not make another holder a quorum.
    public func holders(_ resources: [String]) async throws(LockError) -> [LockHolder?] {
        let replies = try await query(request.holdersRequest(resources))
        var holders: [LockHolder?] = []
        for index in resources.indices {
            guard let holder = tally.holder(replies, index: index) else {
                try throwIfCancelled(replies)
                // Each node as it answered: the holder it named, or free.
                throw tally.quorumError(
                    "holders", replies, resource: resources[index],
                    summary: "no answer is shared by \(tally.quorum) of \(nodeAddresses.count) nodes"
                ) { answers in
                    Self.answer(answers, at: index) { $0.map { .heldByAnother($0) } ?? .missing }
                }
            }
            holders.append(holder)
        }
        return holders
    }

    /// The resources locked on any node that answered, which must be a quorum: fewer could all
    /// miss a lock a quorum holds. A key left on a minority is listed too; ``holders(_:)``
    /// applies the quorum rule to each.
    public func lockedResources() async throws(LockError) -> [String] {
        let replies = await fanOut { node async throws(LockError) in try await node.lockedResources() }
        var resources: [String] = []
        // Bytes, not Strings: canonically equal names (NFC and NFD "café") are two locks in Redis.
        var seen = Set<[UInt8]>()
        var answered = 0
        for case .success(let found) in replies {
            answered += 1
            for resource in found where seen.insert(Array(resource.utf8)).inserted { resources.append(resource) }
        }
        guard answered >= tally.quorum else {
            try throwIfCancelled(replies)
            throw tally.quorumError(
                "list locks", replies,
                summary: "\(answered) of \(nodeAddresses.count) nodes answered SCAN, \(tally.quorum) needed", read: true
            ) { _ in .granted }
        }
        return resources
    }

    // MARK: Fenced storage

    /// Writes to every node; accepted when a quorum accepted (see `RedlockTally.fencedWrite(_:)`).
    /// A write that is not accepted while some node rejected it (a newer token exists) is
    /// undone on the nodes that accepted it (they had missed the newer token): else a read that
    /// reached them would return the stale holder's value, and a read-modify-write of the new
    /// holder build on it. Their fence is raised to the newer token too.
    /// A value longer than a node's client takes in a reply is refused before anything is sent
    /// (`invalidArgument`), as on one server.
    public func fencedWrite(key: String, value: ByteBuffer, fencingToken: Int64) async throws(LockError) -> FencedWriteOutcome {
        for node in nodes {
            try RedisLockBackend.checkReadable(value, limit: node.client.configuration.limits.maximumBulkLength)
        }
        let writes = try await query(
            request.undoableFencedWriteRequest(
                key: key, value: value, fencingToken: fencingToken, previousUpTo: previousValueLimit))
        let replies = writes.map { $0.map(\.outcome) }
        let decided = tally.fencedWrite(replies)
        if decided != .accepted {
            await undoFencedWrite(key: key, value: value, fencingToken: fencingToken, writes: writes)
        }
        guard let outcome = decided else {
            try throwIfCancelled(replies)
            throw tally.quorumError("fenced write", replies) { outcome in
                outcome == .accepted ? .granted : .heldByAnother(LockHolder(owner: "(a higher fencing token)", remaining: nil))
            }
        }
        reportFailures("fenced write", replies) { _ in .granted }
        return outcome
    }

    /// The longest replaced value a fenced write asks a node to send back for an undo: 1 MiB,
    /// or less when a node's client takes no bulk string that long (its reply would fail).
    private var previousValueLimit: Int {
        nodes.map { $0.client.configuration.limits.maximumBulkLength }.reduce(1 << 20, min)
    }

    /// Puts back what a fenced write replaced on the nodes that accepted it, when another node
    /// rejected it: best effort, each node only while the write is still its last one.
    private func undoFencedWrite(
        key: String, value: ByteBuffer, fencingToken: Int64, writes: [Result<UndoableFencedWrite, LockError>]
    ) async {
        var highest: Int64?
        var accepted: [(node: Int, write: UndoableFencedWrite)] = []
        for (node, reply) in writes.enumerated() {
            guard case .success(let write) = reply else { continue }
            switch write.outcome {
            case .accepted: accepted.append((node, write))
            case .rejected(let token): highest = max(highest ?? token, token)
            }
        }
        guard let highest, !accepted.isEmpty else { return }
        let request = self.request
        let undo = accepted
        _ = await fanOut(to: undo.map(\.node)) { node, backend async throws(LockError) in
            guard let write = undo.first(where: { $0.node == node })?.write else { return }
            try await backend.perform(
                request.fencedUndoRequest(key: key, value: value, fencingToken: fencingToken, write: write, highestToken: highest)
            )
        }
    }

    /// Reads a quorum of nodes and returns the value with the highest token.
    public func fencedRead(key: String) async throws(LockError) -> FencedValue? {
        try checkIndependence()
        let replies = await fanOut { node async throws(LockError) in try await node.fencedRead(key: key) }
        try checkIndependence()
        guard let value = try tally.fencedRead(replies) else {
            try throwIfCancelled(replies)
            throw tally.quorumError("fenced read", replies, read: true) { _ in .granted }
        }
        return value
    }

    /// Token-checked read on every node; read when a quorum raised its fence (the value with
    /// the highest token among them), rejected when enough nodes saw a newer token.
    public func fencedRead(key: String, fencingToken: Int64) async throws(LockError) -> FencedReadOutcome {
        let replies = try await query(request.fencedReadRequest(key: key, fencingToken: fencingToken))
        guard let outcome = try tally.fencedClaim(replies) else {
            try throwIfCancelled(replies)
            throw tally.quorumError("fenced read", replies) { outcome in
                if case .read = outcome { return .granted }
                return .heldByAnother(LockHolder(owner: "(a higher fencing token)", remaining: nil))
            }
        }
        return outcome
    }

    // MARK: Events

    /// Every node's events, each change passed on once a quorum of nodes reported it, plus
    /// ``LockEvent/error(_:)`` for node failures (of subscriptions and of operations).
    public func withEvents<T: Sendable>(expirations: Bool, _ body: (LockEventStream) async throws -> T) async throws -> T {
        let buffer = LockEventBuffer()
        return try await withBackendEventHandler(expirations: expirations, { buffer.yield($0) }) {
            defer { buffer.finish() }
            return try await body(buffer.eventStream)
        }
    }

    /// Like ``withEvents(expirations:_:)``, handing events to `handler` on the nodes' event loops.
    public func withEventHandler<T: Sendable>(
        expirations: Bool,
        _ handler: @escaping @Sendable (LockEvent) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withBackendEventHandler(
            expirations: expirations,
            { event in
                if case .lock(let event) = event { handler(event) }
            }, body)
    }

    /// Like ``withEventHandler(expirations:_:_:)``, with the expiry watcher's news of shortened
    /// TTLs (merged by quorum like the rest).
    private func withBackendEventHandler<T: Sendable>(
        expirations: Bool,
        _ handler: @escaping @Sendable (BackendEvent) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        let merger = RedlockMergerBox<RedlockEventMerger>(quorum: quorum)
        return try await failures.withListener({ handler(.lock($0)) }) {
            try await withEachNode(
                subscribe: { node, index, inner in
                    try await node.withTaggedEventHandler(
                        expirations: expirations,
                        { event, tag in
                            if case .lock(.error(let error)) = event {
                                // A node's own error, which no quorum merges: it names the node.
                                handler(.lock(.error(nodeEventError(index, error))))
                            } else if let merged = merger.receive(event, tag: tag, fromNode: index) {
                                handler(merged)
                            }
                        },
                        inner)
                },
                onFailure: { index, error in handler(.lock(.error(subscriptionError(index, error)))) },
                // Its events until now were missed.
                onJoin: { _ in handler(.lock(.gap)) },
                body
            )
        }
    }

    /// Wake-ups for a release once a quorum of nodes reported it (`RedlockWakeMerger`): a
    /// minority grant given back after a split vote wakes nobody, the holder's release wakes
    /// waiters at once.
    ///
    /// `body` runs once a quorum of nodes confirmed the subscription, as attempts need no more.
    /// While a node's subscription is missing (it was down or refused it, or had not confirmed
    /// when `body` started; it is retried in the background, 1 s, then doubling up to 30 s),
    /// the holder's release may be reported by
    /// fewer than a quorum of the subscribed nodes, and the waiter would sleep until the
    /// holder's expiry: then waiters get a ``WakeHint/gap`` every ``degradedWakeInterval``
    /// instead, until every node is subscribed. A healthy wait never polls.
    public func withWakeHandler<T: Sendable>(
        waiter: String?,
        _ handler: @escaping @Sendable (WakeHint) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withWakeHandler(waiter: waiter, subscribeWait: nil, handler, body)
    }

    /// ``withWakeHandler(waiter:_:_:)`` whose first subscription to each node waits at most
    /// `subscribeWait` (and never longer than the node timeout) for its confirmation: a node
    /// that did not confirm by then counts as missing (retried in the background, waiters get
    /// the degraded wake-ups meanwhile). `body` runs once a quorum of nodes confirmed (or every
    /// node's first attempt ended); a node unconfirmed then counts as missing too, until it
    /// confirms (with a ``WakeHint/gap``).
    public func withWakeHandler<T: Sendable>(
        waiter: String?,
        subscribeWait: Duration?,
        _ handler: @escaping @Sendable (WakeHint) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        let merger = RedlockMergerBox<RedlockWakeMerger>(quorum: quorum)
        let missing = RedlockMissingSubscriptions()
        let interval = degradedWakeInterval
        // Only the first attempts, which `body` waits for; the background retries of a missing
        // node come after it started, and wait the node timeout.
        let started = EnteredFlag()
        // The wait starts once a quorum confirmed: its attempts need no more, and a stopped
        // minority node would hold the first one up for the node timeout. One still
        // unconfirmed then counts as missing until it joins.
        return try await withEachNode(
            enough: quorum,
            subscribe: { node, index, inner in
                try await node.withTaggedWakeHandler(
                    subscribeWait: started.isMarked ? nil : subscribeWait,
                    { hint, tag in
                        if let hint = merger.receive(hint, tag: tag, fromNode: index) { handler(hint) }
                    }, inner)
            },
            onFailure: { index, error in
                missing.missing(index)
                logger.debug(
                    "redlock node cannot be watched",
                    metadata: [
                        "locky.node": "\(nodeAddresses[index])",
                        "error": "\((error as? LockError)?.code.description ?? "\(type(of: error))")",
                    ])
            },
            // A release there may have been missed: waiters try again.
            onJoin: { index in
                missing.joined(index)
                handler(.gap)
            },
            onLate: { missing.missing($0) }
        ) {
            started.mark()
            guard missing.any else { return try await body() }
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await Self.wakeWhileMissing(missing, every: interval, handler) }
                defer { group.cancelAll() }
                return try await body()
            }
        }
    }

    /// Passes a gap every `interval` (plus up to a quarter of it, so processes do not retry in
    /// lockstep) while a node's subscription is missing; ends once all are subscribed.
    private static func wakeWhileMissing(
        _ missing: RedlockMissingSubscriptions, every interval: Duration, _ handler: @Sendable (WakeHint) -> Void
    ) async {
        var generator = SystemRandomNumberGenerator()
        while missing.any {
            do {
                try await Task.sleep(for: interval * Double.random(in: 1...1.25, using: &generator))
            } catch {
                return
            }
            if missing.any { handler(.gap) }
        }
    }

    /// Closes every node's backend (``RedisLockBackend/close()``), and its client if this
    /// backend created them. Idempotent and final: from then on every call fails with
    /// `quorumNotReached`, each node failing with `backendUnavailable` over a `closed` client
    /// error, and sends nothing, also through clients you manage (which stay open for you).
    public func close() async {
        await withTaskGroup(of: Void.self) { group in
            for node in nodes { group.addTask { await node.close() } }
        }
    }

    // MARK: Fan-out

    /// Builds the requests (every node gets the same command).
    private var request: RedisLockBackend { nodes[0] }

    /// ``fanOut(_:to:replyWait:)`` for an operation: refused before anything is sent when two
    /// nodes are known to be one server, and after the replies when this call taught it (a
    /// node's first connection learns its run_id ahead of the call's reply); `undo` gives back
    /// what the call may have taken first.
    private func query<R: Sendable>(
        _ request: RedisLockRequest<R>,
        undo: ([Result<R, LockError>]) async -> Void = { _ in }
    ) async throws(LockError) -> [Result<R, LockError>] {
        try await query(request, until: nil, undo: undo).replies
    }

    /// ``query(_:undo:)`` that returns once `decided` holds for the replies in so far, without
    /// waiting for the slowest nodes (``fanOut(_:to:replyWait:until:late:)``), and the nodes it
    /// did not wait for; `late` gets their successful replies (node index, reply) as they come.
    /// Only when a quorum is less than all nodes, and every node's run_id is known: the check
    /// for one server under two addresses then has nothing left to learn from the replies of
    /// the nodes not waited for.
    private func query<R: Sendable>(
        _ request: RedisLockRequest<R>,
        replyWait: Duration? = nil,
        until decided: (@Sendable ([Result<R, LockError>]) -> Bool)?,
        late: (@Sendable (Int, R) -> Void)? = nil,
        undo: ([Result<R, LockError>]) async -> Void = { _ in }
    ) async throws(LockError) -> (replies: [Result<R, LockError>], pending: Set<Int>) {
        try checkIndependence()
        let early = quorum < nodes.count && nodes.allSatisfy { $0.client.serverRunID != nil }
        let (replies, pending) = await fanOut(
            request, replyWait: replyWait, until: early ? decided : nil, late: late)
        do throws(LockError) {
            try checkIndependence()
        } catch {
            await undo(replies)
            throw error
        }
        return (replies, pending)
    }

    /// Throws when two nodes reported one run_id (``RedlockNodeIdentities``): reads what each
    /// connection learnt, no round trip.
    private func checkIndependence() throws(LockError) {
        guard nodes.count > 1 else { return }
        if let conflict = identities.conflict(nodes.map(\.client.serverRunID)) { throw conflict }
    }

    /// Sends `request` to the nodes at `indices` (all by default) at once, each reply waited
    /// for at most the node timeout (`replyWait` instead, when given); one result per node, in
    /// order. A node that lost its script cache (`NOSCRIPT`, e.g. after a restart) is retried
    /// alone with the script.
    private func fanOut<R: Sendable>(
        _ request: RedisLockRequest<R>, to indices: [Int]? = nil, replyWait: Duration? = nil
    ) async -> [Result<R, LockError>] {
        await fanOut(request, to: indices, replyWait: replyWait, until: nil, late: nil).replies
    }

    /// ``fanOut(_:to:replyWait:)`` that returns as soon as `decided` holds for the replies in so
    /// far (a node not heard from yet reads as failed), and the nodes it did not wait for. What
    /// those answer later is reported if it is a failure (as one that did not break the quorum),
    /// else handed to `late` with the node's index, on its event loop (dropped without it):
    /// their commands went out in order on their connections, so whatever comes after (a
    /// release) cannot overtake them.
    private func fanOut<R: Sendable>(
        _ request: RedisLockRequest<R>,
        to indices: [Int]? = nil,
        replyWait: Duration? = nil,
        until decided: (@Sendable ([Result<R, LockError>]) -> Bool)?,
        late lateReply: (@Sendable (Int, R) -> Void)?
    ) async -> (replies: [Result<R, LockError>], pending: Set<Int>) {
        let targets = indices ?? Array(nodes.indices)
        let nodes = self.nodes
        // A closed node (all of them after ``close()``, or one closed through ``nodeBackends``)
        // refuses unsent, as its backend does; the others are asked as usual, all waited for.
        // Checked before anything is built: the common case, every node open, allocates nothing.
        if targets.contains(where: { nodes[$0].isClosed }) {
            let refusing = targets.map { nodes[$0].isClosed }
            let open = zip(targets, refusing).filter { !$0.1 }.map(\.0)
            var answers = (open.isEmpty ? [] : await fanOut(request, to: open, replyWait: replyWait)).makeIterator()
            let refused = Result<R, LockError>.failure(LockError(RedisLockBackend.closedClientError, during: request.operation))
            return (refusing.map { $0 ? refused : answers.next() ?? refused }, [])
        }
        var enough: (@Sendable ([Result<RESPToken, RedisClientError>?]) -> Bool)?
        var late: (@Sendable (Int, Result<RESPToken, RedisClientError>) -> Void)?
        if let decided {
            enough = { partial in decided(partial.map { $0.map { Self.parsed($0, request) } ?? .failure(Self.notHeardYet) }) }
            late = { [self] position, reply in
                switch Self.parsed(reply, request) {
                case .success(let value): lateReply?(targets[position], value)
                case .failure(let error): report(request.operation, tally.outcome(node: targets[position], error))
                }
            }
        }
        // A shorter `replyWait` (a deadline near) bounds the dialling of unconnected nodes and
        // the NOSCRIPT retry below too; `.zero` (send without waiting) still dials for up to the
        // node timeout, so that a give-back reaches a node whose connection is being re-made.
        let patience = replyWait.map { $0 > .zero ? min($0, nodeTimeout) : nodeTimeout } ?? nodeTimeout
        return await RedisClient.withReplyWaitLimit(patience) {
            let replies = await RedisClient.execute(
                request.command, on: targets.map { nodes[$0].client }, replyWait: replyWait, until: enough, late: late)
            var results: [Result<R, LockError>] = []
            results.reserveCapacity(replies.count)
            var pending: Set<Int> = []
            for (position, reply) in replies.enumerated() {
                switch reply {
                case nil:
                    pending.insert(position)
                    results.append(.failure(Self.notHeardYet))
                case .failure(let error) where error.serverError?.code == .noscript && request.script != nil:
                    do throws(LockError) {
                        results.append(.success(try await nodes[targets[position]].perform(request)))
                    } catch {
                        results.append(.failure(error))
                    }
                case let reply?:
                    results.append(Self.parsed(reply, request))
                }
            }
            return (results, pending)
        }
    }

    /// A node's reply to `request`, parsed.
    private static func parsed<R>(_ reply: Result<RESPToken, RedisClientError>, _ request: RedisLockRequest<R>) -> Result<
        R, LockError
    > {
        switch reply {
        case .success(let token):
            do throws(LockError) {
                return .success(try request.parse(token))
            } catch {
                return .failure(error)
            }
        case .failure(let error):
            return .failure(LockError(error, during: request.operation))
        }
    }

    /// What a node not waited for counts as while deciding: no answer (never reported).
    private static let notHeardYet = LockError(.backendUnavailable, "no answer yet: a quorum answered first")

    /// Runs `call` on every node at once, each bounded by the node timeout; one result per node.
    private func fanOut<R: Sendable>(
        _ call: @escaping @Sendable (RedisLockBackend) async throws(LockError) -> R
    ) async -> [Result<R, LockError>] {
        await fanOut(to: Array(nodes.indices)) { _, node async throws(LockError) in try await call(node) }
    }

    /// Runs `call` on the nodes at `indices` at once, each bounded by the node timeout (by
    /// `replyWait` when shorter); one result per index, in order.
    private func fanOut<R: Sendable>(
        to indices: [Int],
        replyWait: Duration? = nil,
        _ call: @escaping @Sendable (Int, RedisLockBackend) async throws(LockError) -> R
    ) async -> [Result<R, LockError>] {
        let nodes = self.nodes
        return await RedisClient.withReplyWaitLimit(min(replyWait ?? nodeTimeout, nodeTimeout)) {
            if indices.count == 1 { return [await Self.result(of: call, indices[0], nodes[indices[0]])] }
            return await withTaskGroup(of: (Int, Result<R, LockError>).self) { group in
                for (position, index) in indices.enumerated() {
                    group.addTask { (position, await Self.result(of: call, index, nodes[index])) }
                }
                var results = [Result<R, LockError>](
                    repeating: .failure(LockError(.cancelled, "not run")), count: indices.count)
                for await (position, result) in group { results[position] = result }
                return results
            }
        }
    }

    private static func result<R>(
        of call: @Sendable (Int, RedisLockBackend) async throws(LockError) -> R,
        _ index: Int,
        _ node: RedisLockBackend
    ) async -> Result<R, LockError> {
        do {
            return .success(try await call(index, node))
        } catch {
            return .failure(error)
        }
    }

    /// Raises the fences of `resources` on node `index` to `tokens`: a node the call did not wait
    /// for, whose grant came later with lower tokens (or that answered busy), best effort. Sent
    /// from the event loop as its reply is read (``RedisClient/send(_:waitLimit:onReply:)``: no
    /// task, nothing to await; a failure is reported like the late reply's own).
    private func raiseLate(_ index: Int, _ resources: [String], to tokens: [Int64]) {
        // Closed since the grant: nothing more is sent.
        guard !nodes[index].isClosed else { return }
        let raise = request.raiseFencesRequest(resources, to: tokens)
        nodes[index].client.send(raise.command, waitLimit: nodeTimeout) { [self] reply in
            guard case .failure(let error) = Self.parsed(reply, raise) else { return }
            report(raise.operation, tally.outcome(node: index, error))
        }
    }

    /// Gives back what the nodes at `indices` may have granted (`answered`: their replies to the
    /// call it follows). Only the nodes that answered are waited for; on the others the
    /// give-back is sent in its place behind that call (the same connection keeps the order, so
    /// it cannot overtake it) and not waited for: a stopped node must not cost the caller its
    /// timeout a second time.
    private func giveBack<R: Sendable, A>(
        _ request: RedisLockRequest<R>, to indices: [Int], answered: [Result<A, LockError>]
    ) async {
        let waited = indices.filter { answered[$0].isSuccess }
        let unanswered = indices.filter { !answered[$0].isSuccess }
        async let queued: Void = send(request, to: unanswered)
        if !waited.isEmpty { _ = await fanOut(request, to: waited) }
        await queued
    }

    /// Sends `request` to the nodes at `indices` without waiting for their replies.
    private func send<R: Sendable>(_ request: RedisLockRequest<R>, to indices: [Int]) async {
        guard !indices.isEmpty else { return }
        _ = await fanOut(request, to: indices, replyWait: .zero)
    }

    /// Subscribes on every node at once, then runs `body` once each node is subscribed or
    /// failed (each bounded by the node timeout: a stopped node delays no other), or once
    /// `enough` nodes are subscribed (nil: all). A node whose subscription fails is reported and
    /// left out (the others still deliver), and subscribed again in the background while `body`
    /// runs (after 1 s, doubling up to 30 s): a node that was down when a long watch started
    /// joins it once it is back, with `onJoin`. A node still unsettled when `body` starts (only
    /// with `enough`) is handed to `onLate` first, and joins with `onJoin` once subscribed.
    private func withEachNode<T: Sendable>(
        enough: Int? = nil,
        subscribe: @escaping @Sendable (RedisLockBackend, Int, () async throws -> Void) async throws -> Void,
        onFailure: @escaping @Sendable (Int, any Error) -> Void,
        onJoin: @escaping @Sendable (Int) -> Void,
        onLate: (Int) -> Void = { _ in },
        _ body: () async throws -> T
    ) async throws -> T {
        let nodes = self.nodes
        let start = RedlockSubscriptionStart(nodes: nodes.count, enough: enough ?? nodes.count)
        let (settled, settle) = AsyncStream.makeStream(of: Void.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for index in nodes.indices {
                group.addTask {
                    await Self.keepSubscribed(
                        nodes[index], index, start: start, subscribe: subscribe, onFailure: onFailure, onJoin: onJoin,
                        settled: { settle.yield() })
                }
            }
            for await _ in settled where start.isReady { break }
            start.start(late: onLate)
            settle.finish()
            // The subscriptions last until `body` ends, which cancels them.
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// Keeps node `index` subscribed until cancelled: `settled` after the first attempt (with
    /// `onFailure` when it failed; a first subscription that comes after the start, `onJoin`),
    /// `onJoin` at each later subscription.
    private static func keepSubscribed(
        _ node: RedisLockBackend,
        _ index: Int,
        start: RedlockSubscriptionStart,
        subscribe: @Sendable (RedisLockBackend, Int, () async throws -> Void) async throws -> Void,
        onFailure: @Sendable (Int, any Error) -> Void,
        onJoin: @escaping @Sendable (Int) -> Void,
        settled: @escaping @Sendable () -> Void
    ) async {
        let first = EnteredFlag()
        var delay = Duration.seconds(1)
        while !Task.isCancelled {
            do {
                try await subscribe(node, index) {
                    if first.isMarked {
                        onJoin(index)
                    } else {
                        first.mark()
                        if start.settle(index, confirmed: true) { onJoin(index) } else { settled() }
                    }
                    try await Task.sleep(for: .seconds(365 * 86_400))
                }
            } catch {
                if Task.isCancelled { return }
                if !first.isMarked {
                    first.mark()
                    // Reported before it settles: a wait that starts then counts it missing.
                    onFailure(index, error)
                    if !start.settle(index, confirmed: false) { settled() }
                }
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(30))
        }
    }

    /// An error event of node `index`, naming it.
    private func nodeEventError(_ index: Int, _ error: LockError) -> LockError {
        LockError(
            error.code, "Redlock node \(nodeAddresses[index]): \(error.message)", underlying: error.underlying,
            nodes: [RedlockNodeOutcome(node: nodeAddresses[index], result: .failed(error))])
    }

    private func subscriptionError(_ index: Int, _ error: any Error) -> LockError {
        let lockError = error as? LockError ?? LockError(.backendUnavailable, "\(error)", underlying: error as? RedisClientError)
        return LockError(
            .backendUnavailable,
            "cannot watch the events of Redlock node \(nodeAddresses[index]); its events are missing until the next subscription",
            underlying: lockError.underlying,
            nodes: [RedlockNodeOutcome(node: nodeAddresses[index], result: .failed(lockError))]
        )
    }

    // MARK: Reporting

    /// Node failures in an operation that reached its quorum: events and a debug log line.
    /// Nodes in `pending` were not waited for: what they answer is reported as it comes.
    private func reportFailures<Reply>(
        _ operation: String,
        _ replies: [Result<Reply, LockError>],
        _ classify: (Reply) -> RedlockNodeOutcome.Result,
        except pending: Set<Int> = []
    ) {
        guard replies.contains(where: { !$0.isSuccess }) else { return }
        for (node, outcome) in tally.outcomes(replies, classify).enumerated() where !pending.contains(node) {
            switch outcome.result {
            case .failed, .timedOut: report(operation, outcome)
            default: break
            }
        }
    }

    /// One node's failure in an operation that reached its quorum: an event and a debug log line.
    private func report(_ operation: String, _ outcome: RedlockNodeOutcome) {
        logger.debug("redlock node failed", metadata: ["locky.node": "\(outcome.node)", "locky.operation": "\(operation)"])
        failures.report(
            LockError(.backendUnavailable, "\(operation): Redlock node \(outcome.node) failed; the quorum held", nodes: [outcome])
        )
    }

    /// A cancelled caller gets `cancelled`, not a quorum error made of cancelled nodes.
    private func throwIfCancelled<Reply>(_ replies: [Result<Reply, LockError>]) throws(LockError) {
        let cancelled = replies.contains {
            if case .failure(let error) = $0 { return error.code == .cancelled } else { return false }
        }
        if cancelled && Task.isCancelled { throw LockError(.cancelled, "cancelled while talking to the Redlock nodes") }
    }

    private static func classify(_ reply: AcquireReply) -> RedlockNodeOutcome.Result {
        switch reply {
        case .acquired: return .granted
        case .busy(_, let holder): return .heldByAnother(holder)
        }
    }

    private static func classify(_ reply: ExtendReply) -> RedlockNodeOutcome.Result {
        switch reply {
        case .extended: return .granted
        case .lost(_, let holder): return holder.map { .heldByAnother($0) } ?? .missing
        }
    }

    private static func classify(_ result: RenewalResult) -> RedlockNodeOutcome.Result {
        switch result {
        case .renewed: return .granted
        case .missing, .unknown: return .missing
        case .heldByAnother(let owner): return .heldByAnother(LockHolder(owner: owner, remaining: nil))
        }
    }

    private static func classify(_ outcome: UnlockOutcome) -> RedlockNodeOutcome.Result {
        switch outcome {
        case .unlocked: return .granted
        case .notLocked: return .missing
        case .heldByAnother(let holder): return .heldByAnother(holder)
        }
    }

    private static func classify(_ outcome: RefreshOutcome) -> RedlockNodeOutcome.Result {
        switch outcome {
        case .refreshed: return .granted
        case .notLocked: return .missing
        case .heldByAnother(let holder): return .heldByAnother(holder)
        }
    }

    /// A node's answer for resource `index` of a batch call (`classify`d): not held when its
    /// reply has none.
    private static func answer<Outcome>(
        _ outcomes: [Outcome], at index: Int, _ classify: (Outcome) -> RedlockNodeOutcome.Result
    ) -> RedlockNodeOutcome.Result {
        outcomes.indices.contains(index) ? classify(outcomes[index]) : .missing
    }

    private static func holder(_ outcome: LockOutcome) -> LockHolder {
        if case .busy(let holder) = outcome { return holder }
        return LockHolder(owner: "", remaining: nil)
    }
}

extension Result {
    fileprivate var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

extension Result where Success == AcquireReply {
    fileprivate var isBusyAcquire: Bool {
        if case .success(.busy) = self { return true }
        return false
    }
}

extension Result where Success == [LockOutcome] {
    /// This node newly granted resource `index`.
    fileprivate func tookLock(at index: Int) -> Bool {
        guard case .success(let outcomes) = self, outcomes.indices.contains(index) else { return false }
        if case .acquired = outcomes[index] { return true }
        return false
    }

    /// This node failed in a way that leaves open whether its lock script ran (a timeout, a
    /// lost connection); not one that answered with a server error: the scripts check
    /// everything before they write, so such an answer changed nothing.
    fileprivate var mayHaveTaken: Bool {
        guard case .failure(let error as LockError) = self else { return false }
        return error.code != .serverError
    }

    /// This node already had resource `index` for the locker.
    fileprivate func alreadyHeldLock(at index: Int) -> Bool {
        guard case .success(let outcomes) = self, outcomes.indices.contains(index) else { return false }
        if case .alreadyHeld = outcomes[index] { return true }
        return false
    }

    /// Another locker holds resource `index` on this node.
    fileprivate func heldByAnother(at index: Int) -> Bool {
        guard case .success(let outcomes) = self, outcomes.indices.contains(index) else { return false }
        if case .busy = outcomes[index] { return true }
        return false
    }

    /// This node holds resource `index` for the locker after the call.
    fileprivate func holdsLock(at index: Int) -> Bool {
        guard case .success(let outcomes) = self, outcomes.indices.contains(index) else { return false }
        return outcomes[index].isLocked
    }
}

extension LockOutcome {
    /// The fencing token of a lock held after the call; nil when busy.
    fileprivate var token: Int64? {
        switch self {
        case .acquired(let token), .alreadyHeld(let token): return token
        case .busy: return nil
        }
    }
}
