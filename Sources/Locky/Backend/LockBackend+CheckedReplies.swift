extension LockBackend {
    // The client calls its backend through these: `LockBackend` is public, and a reply that
    // does not fit its request (a backend of your own, a script of another version) must be a
    // typed error, not an index out of range that ends the process.

    /// ``acquire(_:owner:ttl:replyWait:)``, its reply checked against `resources`.
    func checkedAcquire(_ resources: [String], owner: String, ttl: Duration?, replyWait: Duration? = nil) async throws(LockError)
        -> AcquireReply
    {
        // A backend of your own that implements only the plain requirement gets it through the default.
        let reply = try await acquire(resources, owner: owner, ttl: ttl, replyWait: replyWait)
        switch reply {
        case .acquired(let tokens) where tokens.count != resources.count:
            throw malformedReply("acquire", "\(tokens.count) fencing tokens for \(resources.count) resources")
        case .busy(let index, _) where !resources.indices.contains(index):
            throw malformedReply("acquire", "busy at index \(index) of \(resources.count) resources")
        default:
            return reply
        }
    }

    /// ``extend(_:owner:ttl:mode:)``, its reply checked against `resources`.
    func checkedExtend(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) async throws(LockError)
        -> ExtendReply
    {
        let reply = try await extend(resources, owner: owner, ttl: ttl, mode: mode)
        if case .lost(let index, _) = reply, !resources.indices.contains(index) {
            throw malformedReply("extend", "lost at index \(index) of \(resources.count) resources")
        }
        return reply
    }

    /// ``extend(_:owner:adding:)``, its reply checked against `resources`.
    func checkedExtend(_ resources: [String], owner: String, adding amount: Duration) async throws(LockError)
        -> (reply: ExtendReply, lastsAtLeast: Duration?)
    {
        let answer = try await extend(resources, owner: owner, adding: amount)
        if case .lost(let index, _) = answer.reply, !resources.indices.contains(index) {
            throw malformedReply("extend", "lost at index \(index) of \(resources.count) resources")
        }
        if let lasts = answer.lastsAtLeast, lasts < .zero {
            throw malformedReply("extend", "a negative time left")
        }
        return answer
    }

    /// ``renew(_:)``, one result per item.
    func checkedRenew(_ items: [RenewalItem]) async throws(LockError) -> [RenewalResult] {
        try counted(await renew(items), items.count, "renew")
    }

    /// ``lock(_:locker:ttl:force:)``, one outcome per resource.
    func checkedLock(_ resources: [String], locker: String, ttl: Duration?, force: Bool) async throws(LockError) -> [LockOutcome]
    {
        try counted(await lock(resources, locker: locker, ttl: ttl, force: force), resources.count, "lock")
    }

    /// ``unlock(_:owner:)``, one outcome per resource.
    func checkedUnlock(_ resources: [String], owner: String?) async throws(LockError) -> [UnlockOutcome] {
        try counted(await unlock(resources, owner: owner), resources.count, "unlock")
    }

    /// ``refresh(_:locker:ttl:)``, one outcome per resource.
    func checkedRefresh(_ resources: [String], locker: String?, ttl: Duration?) async throws(LockError) -> [RefreshOutcome] {
        try counted(await refresh(resources, locker: locker, ttl: ttl), resources.count, "refresh")
    }

    /// ``holders(_:)``, one answer per resource.
    func checkedHolders(_ resources: [String]) async throws(LockError) -> [LockHolder?] {
        try counted(await holders(resources), resources.count, "holders")
    }

    private func counted<Answer>(_ answers: [Answer], _ count: Int, _ operation: String) throws(LockError) -> [Answer] {
        guard answers.count == count else {
            throw malformedReply(operation, "\(answers.count) answers for \(count) requested")
        }
        return answers
    }

    private func malformedReply(_ operation: String, _ detail: String) -> LockError {
        LockError(.serverError, "the \(name) backend answered \(operation) with a malformed reply: \(detail); nothing is assumed")
    }
}
