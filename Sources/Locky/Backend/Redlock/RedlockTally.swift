import LockyRedis

/// Redlock's arithmetic: combines what each node answered into one answer. Pure, no I/O, so
/// every rule is tested without sockets (``RedlockBackend`` does the talking).
///
/// The rule everywhere: an answer needs a quorum (`N / 2 + 1`) of nodes that agree. When the
/// nodes that answered the other way already make a quorum impossible, that other answer is
/// final (busy, lost, …). When neither is reached because nodes failed or timed out, nothing is
/// known and the operation fails with ``LockError/Code/quorumNotReached``, naming every node;
/// unless the nodes that refused for a key of another type make a quorum impossible: then it
/// fails with ``LockError/Code/serverError``, as one server does (`quorumError`).
struct RedlockTally: Sendable {
    /// Node addresses, for error messages.
    let nodes: [String]
    /// `N / 2 + 1`.
    var quorum: Int { nodes.count / 2 + 1 }

    /// How many opposing answers make a quorum impossible.
    private var blocking: Int { nodes.count - quorum + 1 }

    // MARK: Acquire

    /// The combined answer to an all-or-nothing acquire.
    enum AcquireDecision: Equatable {
        /// A quorum granted; one token per resource (the highest any granting node issued).
        /// `raise` lists the granting nodes whose counters must be raised to those tokens first
        /// (empty when every granting node issued the highest tokens).
        case acquired(tokens: [Int64], raise: [Int])
        /// Enough nodes are held by others that no quorum is possible.
        case busy(index: Int, holder: LockHolder)
        /// Too many nodes failed to tell.
        case failed
    }

    /// Decides an acquire from the nodes' replies.
    func acquire(_ replies: [Result<AcquireReply, LockError>]) -> AcquireDecision {
        var granted: [(node: Int, tokens: [Int64])] = []
        var busy: [(index: Int, holder: LockHolder)] = []
        for (node, reply) in replies.enumerated() {
            switch reply {
            case .success(.acquired(let tokens)): granted.append((node, tokens))
            case .success(.busy(let index, let holder)): busy.append((index, holder))
            case .failure: break
            }
        }
        if granted.count >= quorum {
            let (tokens, raise) = fencingTokens(granted)
            return .acquired(tokens: tokens, raise: raise)
        }
        if busy.count >= blocking, let first = mostCommonHolder(busy) { return .busy(index: first.index, holder: first.holder) }
        return .failed
    }

    /// Fencing across nodes: each node counts tokens on its own, so the lease gets the highest
    /// token any granting node issued, and every granting node whose counter is lower is raised
    /// to it (before the lease is handed over), even when a quorum already issued it: a node
    /// left behind would need only the restart of one node that knew the token (while another
    /// is down) to hand out a lower token to the next holder. Then every granting node knows
    /// the token, and the next holder, whose quorum shares a node with them, gets a higher one.
    func fencingTokens(_ granted: [(node: Int, tokens: [Int64])]) -> (tokens: [Int64], raise: [Int]) {
        guard let first = granted.first else { return ([], []) }
        var highest = first.tokens
        for grant in granted.dropFirst() {
            for index in highest.indices where index < grant.tokens.count {
                highest[index] = max(highest[index], grant.tokens[index])
            }
        }
        return (highest, granted.filter { $0.tokens != highest }.map(\.node))
    }

    /// The holder most nodes named (ties: the first seen), with the index it was named for.
    private func mostCommonHolder(_ busy: [(index: Int, holder: LockHolder)]) -> (index: Int, holder: LockHolder)? {
        mostCommon(busy) { $0.holder.owner }
    }

    /// The entry whose name most entries share, byte for byte (ties: the first seen).
    private func mostCommon<Entry>(_ entries: [Entry], by name: (Entry) -> String) -> Entry? {
        var counts: [ExactName: Int] = [:]
        for entry in entries { counts[ExactName(name(entry)), default: 0] += 1 }
        let best = counts.values.max() ?? 0
        return entries.first { counts[ExactName(name($0))] == best }
    }

    // MARK: Locker API

    /// The combined answer for one resource of the locker API's lock.
    enum LockDecision: Equatable {
        /// A quorum holds it for the locker; `fresh` unless a quorum already held it.
        case locked(token: Int64, fresh: Bool, raise: [Int])
        /// Held by another on enough nodes.
        case busy(LockHolder)
        /// Too many nodes failed to tell.
        case failed
    }

    /// Decides resource `index` of a lock call.
    func lock(_ replies: [Result<[LockOutcome], LockError>], index: Int) -> LockDecision {
        var locked: [(node: Int, tokens: [Int64])] = []
        var alreadyHeld = 0
        var busy: [(index: Int, holder: LockHolder)] = []
        for (node, answer) in answers(replies, index: index).enumerated() {
            guard let answer else { continue }
            switch answer {
            case .acquired(let token):
                locked.append((node, [token]))
            case .alreadyHeld(let token):
                alreadyHeld += 1
                locked.append((node, [token]))
            case .busy(let holder):
                busy.append((index, holder))
            }
        }
        if locked.count >= quorum {
            let (tokens, raise) = fencingTokens(locked)
            // Fresh unless a quorum already held it: regaining a minority node is no new hold.
            return .locked(token: tokens[0], fresh: alreadyHeld < quorum, raise: raise)
        }
        if busy.count >= blocking, let first = mostCommonHolder(busy) { return .busy(first.holder) }
        return .failed
    }

    /// Whether resource `index` of a lock call is decided for good by the replies in (a node
    /// not heard from counts as failed): locked on a quorum, and whether the call newly took it
    /// (`fresh`) cannot change either, because a quorum already held it or the nodes that did
    /// not answer cannot make one that did. Busy or failed is never final here: the lock call
    /// waits for every node then (see ``RedlockBackend``'s `lock`).
    func lockIsFinal(_ replies: [Result<[LockOutcome], LockError>], index: Int) -> Bool {
        guard case .locked = lock(replies, index: index) else { return false }
        let answers = answers(replies, index: index)
        let alreadyHeld = answers.count { if case .alreadyHeld? = $0 { true } else { false } }
        return alreadyHeld >= quorum || alreadyHeld + answers.count { $0 == nil } < quorum
    }

    // MARK: Extend and renew

    /// Decides an all-or-nothing extend: extended on a quorum, lost when enough nodes no longer
    /// have it, nil when too many failed to tell.
    func extend(_ replies: [Result<ExtendReply, LockError>]) -> ExtendReply? {
        var extended = 0
        var lost: [(index: Int, holder: LockHolder?)] = []
        for reply in replies {
            switch reply {
            case .success(.extended): extended += 1
            case .success(.lost(let index, let holder)): lost.append((index, holder))
            case .failure: break
            }
        }
        if extended >= quorum { return .extended }
        guard lost.count >= blocking else { return nil }
        let named = lost.compactMap { entry in entry.holder.map { (index: entry.index, holder: $0) } }
        if named.count >= blocking, let holder = mostCommonHolder(named) {
            return .lost(index: holder.index, holder: holder.holder)
        }
        return .lost(index: lost[0].index, holder: nil)
    }

    /// How long a quorum of the nodes that extended surely holds every resource: the
    /// quorum-th longest of their least times left (the least time any key had left on that
    /// node after the extend). Nil when fewer than a quorum said (a script that does not tell):
    /// then nothing bounds the extension but what the caller counted on.
    func extendedFor(_ replies: [Result<(reply: ExtendReply, least: Duration?), LockError>]) -> Duration? {
        var left: [Duration] = []
        for case .success(let answer) in replies where answer.reply == .extended {
            guard let least = answer.least else { return nil }
            left.append(least)
        }
        guard left.count >= quorum else { return nil }
        return left.sorted(by: >)[quorum - 1]
    }

    /// Decides renewal item `index`; nil when too many nodes failed to tell.
    func renewal(_ replies: [Result<[RenewalResult], LockError>], index: Int) -> RenewalResult? {
        var renewed = 0
        var others: [String] = []
        var missing = 0
        for case let result? in answers(replies, index: index) {
            switch result {
            case .renewed: renewed += 1
            case .heldByAnother(let owner): others.append(owner)
            case .missing: missing += 1
            case .unknown: break
            }
        }
        if renewed >= quorum { return .renewed }
        guard others.count + missing >= blocking else { return nil }
        if let owner = others.first, others.count >= missing { return .heldByAnother(owner: owner) }
        return .missing
    }

    // MARK: Unlock, refresh, holders

    /// Decides resource `index` of an unlock: held by another when a quorum says so (even if a
    /// node removed a minority key of the caller's), unlocked when a node removed it and the
    /// nodes that did not answer are too few to hold it still (fewer than a quorum: one node's
    /// word is not enough when the silent ones may keep it), not locked when a quorum answered
    /// that nobody held it (held by another when some of them named a holder); nil when too
    /// many failed to tell.
    func unlock(_ replies: [Result<[UnlockOutcome], LockError>], index: Int) -> UnlockOutcome? {
        var answered = 0
        var removed = 0
        var others: [(index: Int, holder: LockHolder)] = []
        for case let outcome? in answers(replies, index: index) {
            answered += 1
            switch outcome {
            case .unlocked: removed += 1
            case .heldByAnother(let holder): others.append((index, holder))
            case .notLocked: break
            }
        }
        // Held by another on a quorum (owner-checked): theirs, whatever minority keys of the
        // caller's were removed with it; "unlocked" would hide the holder (and count a release).
        if others.count >= quorum, let holder = mostCommonHolder(others) { return .heldByAnother(holder.holder) }
        // Removed, not held, or (owner-checked) held by another: none of these holds it now.
        if removed > 0 { return replies.count - answered < quorum ? .unlocked : nil }
        guard answered >= quorum else { return nil }
        if let holder = mostCommonHolder(others) { return .heldByAnother(holder.holder) }
        return .notLocked
    }

    /// Whether resource `index` of an unlock is decided as unlocked by the replies in so far (a
    /// node not heard from counts as failed): the nodes not heard from, with those that named
    /// another holder, cannot make that holder a quorum, which would turn it into held by another.
    func unlockIsFinal(_ replies: [Result<[UnlockOutcome], LockError>], index: Int) -> Bool {
        guard unlock(replies, index: index) == .unlocked else { return false }
        let answers = answers(replies, index: index)
        let others = answers.count { if case .heldByAnother? = $0 { true } else { false } }
        return others + answers.count { $0 == nil } < quorum
    }

    /// Decides resource `index` of a refresh; nil when too many nodes failed to tell.
    func refresh(_ replies: [Result<[RefreshOutcome], LockError>], index: Int) -> RefreshOutcome? {
        var refreshed = 0
        var notLocked = 0
        var others: [(index: Int, holder: LockHolder)] = []
        for case let outcome? in answers(replies, index: index) {
            switch outcome {
            case .refreshed: refreshed += 1
            case .notLocked: notLocked += 1
            case .heldByAnother(let holder): others.append((index, holder))
            }
        }
        if refreshed >= quorum { return .refreshed }
        guard others.count + notLocked >= blocking else { return nil }
        if let holder = mostCommonHolder(others), others.count >= notLocked { return .heldByAnother(holder.holder) }
        return .notLocked
    }

    /// The holder of resource `index` that a quorum agrees on (its shortest remaining time and
    /// the highest fencing token any node reports), `.some(nil)` when there is none, nil when
    /// too many nodes failed to tell: when an owner with the nodes that did not answer could
    /// make a quorum, "free" might be wrong.
    func holder(_ replies: [Result<[LockHolder?], LockError>], index: Int) -> LockHolder?? {
        var answered = 0
        var byOwner: [ExactName: [LockHolder]] = [:]
        var highestToken: Int64?
        for case let answer? in answers(replies, index: index) {
            answered += 1
            guard let holder = answer else { continue }
            byOwner[ExactName(holder.owner), default: []].append(holder)
            if let token = holder.fencingToken { highestToken = max(highestToken ?? token, token) }
        }
        if let (owner, holders) = byOwner.first(where: { $0.value.count >= quorum }) {
            let remaining = holders.compactMap(\.remaining).min()
            let forever = holders.allSatisfy { $0.remaining == nil }
            return .some(LockHolder(owner: owner.string, remaining: forever ? nil : remaining, fencingToken: highestToken))
        }
        guard answered >= quorum else { return nil }
        let silent = replies.count - answered
        if byOwner.values.contains(where: { $0.count + silent >= quorum }) { return nil }
        return .some(nil)
    }

    /// Each node's answer for resource `index` of a batch call, in node order; nil for a node
    /// that failed (or was not heard from yet).
    private func answers<Outcome>(_ replies: [Result<[Outcome], LockError>], index: Int) -> [Outcome?] {
        replies.map { reply in
            guard case .success(let outcomes) = reply, outcomes.indices.contains(index) else { return nil }
            return outcomes[index]
        }
    }

    // MARK: Fenced storage

    /// A fenced write is accepted when a quorum accepted it; rejected (with the highest token
    /// any node knows) when enough nodes rejected it; nil when too many failed to tell.
    func fencedWrite(_ replies: [Result<FencedWriteOutcome, LockError>]) -> FencedWriteOutcome? {
        var accepted = 0
        var rejected = 0
        var highest: Int64 = 0
        for reply in replies {
            switch reply {
            case .success(.accepted): accepted += 1
            case .success(.rejected(let token)):
                rejected += 1
                highest = max(highest, token)
            case .failure: break
            }
        }
        if accepted >= quorum { return .accepted }
        if rejected >= blocking { return .rejected(highestToken: highest) }
        return nil
    }

    /// A fenced read: of a quorum of answers, the value written with the highest token (a
    /// quorum accepted every acknowledged write, so a quorum of readers sees the latest one);
    /// nil when too many nodes failed to tell. Throws `quorumNotReached` when that token wrote
    /// different values and no quorum holds one (``newest(_:)``).
    func fencedRead(_ replies: [Result<FencedValue?, LockError>]) throws(LockError) -> FencedValue?? {
        var answered = 0
        var values: [FencedValue] = []
        for reply in replies {
            guard case .success(let value) = reply else { continue }
            answered += 1
            if let value { values.append(value) }
        }
        guard answered >= quorum else { return nil }
        return .some(try newest(values, "fenced read", replies, read: true) { _ in .granted })
    }

    /// A token-checked read: read when a quorum accepted the token (of their values, the one
    /// written with the highest token: a write reaches a quorum, which shares a node with this
    /// one), rejected when enough nodes know a newer token; nil when too many failed to tell.
    /// Throws like ``fencedRead(_:)`` when the read values are ambiguous.
    func fencedClaim(_ replies: [Result<FencedReadOutcome, LockError>]) throws(LockError) -> FencedReadOutcome? {
        var read = 0
        var values: [FencedValue] = []
        var rejected = 0
        var highest: Int64 = 0
        for reply in replies {
            switch reply {
            case .success(.read(let value)):
                read += 1
                if let value { values.append(value) }
            case .success(.rejected(let token)):
                rejected += 1
                highest = max(highest, token)
            case .failure: break
            }
        }
        if read >= quorum {
            return .read(
                try newest(values, "fenced read", replies) { outcome in
                    if case .read = outcome { return .granted }
                    return .heldByAnother(LockHolder(owner: "(a higher fencing token)", remaining: nil))
                })
        }
        if rejected >= blocking { return .rejected(highestToken: highest) }
        return nil
    }

    /// The newest of the values read: the one written with the highest token. One token can
    /// have written different values: a holder writes twice under one lease, and the writes
    /// reach different majorities (a node down for the second comes back with the first).
    /// The token cannot order those; a value that a quorum of nodes holds is the newest
    /// acknowledged one (the quorum of any later acknowledged write would share a node with
    /// it). When none does, the read cannot tell, and says so instead of picking one.
    private func newest<Reply>(
        _ values: [FencedValue],
        _ operation: String,
        _ replies: [Result<Reply, LockError>],
        read: Bool = false,
        _ classify: (Reply) -> RedlockNodeOutcome.Result
    ) throws(LockError) -> FencedValue? {
        guard let token = values.map(\.highestToken).max() else { return nil }
        let top = values.filter { $0.highestToken == token }
        guard let first = top.first, top.contains(where: { $0 != first }) else { return top.first }
        if let agreed = top.first(where: { candidate in top.filter { $0 == candidate }.count >= quorum }) { return agreed }
        throw quorumError(
            operation, replies,
            summary:
                "ambiguous: the nodes hold different values written with token \(token) and no value is held by \(quorum) of "
                + "\(nodes.count) nodes (writes with one token reached different majorities); read again once more nodes "
                + "answer, or write the value again",
            read: read, classify)
    }

    // MARK: Reporting

    /// Every node's answer, for errors and events; `read`: to a read, whose nodes answer.
    func outcomes<Reply>(
        _ replies: [Result<Reply, LockError>],
        read: Bool = false,
        _ classify: (Reply) -> RedlockNodeOutcome.Result
    ) -> [RedlockNodeOutcome] {
        zip(nodes.indices, replies).map { node, reply in
            switch reply {
            case .success(let value): return RedlockNodeOutcome(node: nodes[node], result: classify(value), isRead: read)
            case .failure(let error): return outcome(node: node, error)
            }
        }
    }

    /// Node `node` failed with `error`: timed out, or failed.
    func outcome(node: Int, _ error: LockError) -> RedlockNodeOutcome {
        if error.underlying?.code == .timeout { return RedlockNodeOutcome(node: nodes[node], result: .timedOut) }
        return RedlockNodeOutcome(node: nodes[node], result: .failed(error))
    }

    /// The error for an operation that reached no quorum, with every node's answer (`read`: to
    /// a read): ``LockError/Code/serverError`` when the nodes that refused for a key of another
    /// type (``LockError`` `refusesForeignKey`) are so many that the others cannot make a quorum,
    /// as one server answers (trying again cannot help, and a wait must not go on); else
    /// ``LockError/Code/quorumNotReached``. Fewer refusals, with nodes that failed or are
    /// busy, leave it open, so a mix stays `quorumNotReached`.
    func quorumError<Reply>(
        _ operation: String,
        _ replies: [Result<Reply, LockError>],
        resource: String? = nil,
        summary: String? = nil,
        read: Bool = false,
        _ classify: (Reply) -> RedlockNodeOutcome.Result
    ) -> LockError {
        let outcomes = outcomes(replies, read: read, classify)
        if let refusal = foreignKeyRefusal(operation, replies, resource: resource, outcomes) { return refusal }
        let granted = outcomes.filter(\.isGranted).count
        return LockError(
            .quorumNotReached,
            "\(operation): \(summary ?? "\(granted) of \(nodes.count) nodes agreed, \(quorum) needed")",
            resource: resource,
            nodes: outcomes
        )
    }

    /// The `serverError` of `quorumError` when at least `blocking` nodes refused for a key of
    /// another type; nil otherwise. It names the resource most of them named (the operation's
    /// `resource` when they named none), and carries the message and `underlying` of the first
    /// node that named it (a WRONGTYPE reply, as on one server).
    private func foreignKeyRefusal<Reply>(
        _ operation: String, _ replies: [Result<Reply, LockError>], resource: String?, _ outcomes: [RedlockNodeOutcome]
    ) -> LockError? {
        let refusals = replies.compactMap { reply -> LockError? in
            guard case .failure(let error) = reply, error.refusesForeignKey else { return nil }
            return error
        }
        guard refusals.count >= blocking, let anyRefusal = refusals.first else { return nil }
        let first = mostCommon(refusals.filter { $0.resource != nil }) { $0.resource ?? "" } ?? anyRefusal
        var error = LockError(
            .serverError,
            "\(operation): refused by \(refusals.count) of \(nodes.count) nodes, too many for a quorum: \(first.message)",
            resource: first.resource ?? resource,
            underlying: first.underlying,
            nodes: outcomes
        )
        error.foreignKey = true
        return error
    }
}
