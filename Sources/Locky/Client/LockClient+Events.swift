import Synchronization

extension LockClient {
    /// Runs `body` with the stream of lock events seen by every process: locked (resource,
    /// locker), unlocked, expired, gap (events may have been missed after a reconnect) and error.
    ///
    /// Locked and unlocked events are published by the lock scripts themselves, so each change
    /// is seen once by every subscriber, whoever made it. Expired events come from Redis
    /// keyspace notifications (switched on when the server allows `CONFIG SET`); the watcher
    /// looks at each lock at its deadline, so the event comes within milliseconds instead of
    /// whenever Redis gets to it. It learns deadlines from the locked events (and from the news,
    /// published by the scripts, of a TTL shortened afterwards), and by listing the locks held
    /// (``heldLocks(matching:)``'s `SCAN`) when the stream starts and after each gap. The
    /// in-memory backend expires each lock at its deadline on a timer of its own while events
    /// are watched.
    ///
    /// After ``close()`` it throws ``LockError`` `backendUnavailable`; a stream in progress
    /// when the client is closed finishes (see ``close()``).
    ///
    /// - Parameters:
    ///   - pattern: A glob over resource names (`article:*`, see ``ResourcePattern``); nil for all.
    ///   - body: Runs with the stream, which is live when it starts and valid until it returns.
    public func events<T: Sendable>(
        matching pattern: String? = nil,
        _ body: @escaping @Sendable (LockEventStream) async throws -> T
    ) async throws -> T {
        let filter = pattern.map(ResourcePattern.init)
        let tracker = ExpiryTracker(backend: backend, clock: clock)
        return try await backend.withEvents(expirations: true) { raw in
            // Bounded: a consumer that falls behind is told with a `gap` (``LockEventBuffer``).
            let buffer = LockEventBuffer()
            // Finished by ``close()``, which comes after the flag is set: one of the two sees the other.
            let id = streamIDs.add(1, ordering: .relaxed).newValue
            openStreams.withLock { $0[id] = buffer }
            defer { openStreams.withLock { _ = $0.removeValue(forKey: id) } }
            if isClosed.load(ordering: .sequentiallyConsistent) { buffer.finish() }
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    // Every event, with the news of shortened TTLs that only the watcher needs.
                    let source = raw.makeBackendEventSource()
                    while let item = await source.next() {
                        let event: LockEvent
                        switch item {
                        case .lock(let lockEvent):
                            event = lockEvent
                        case .ttlShortened(let resource, let ttl):
                            // Earlier than the deadline the watcher knew: looked at then instead.
                            tracker.track(resource, ttl: ttl)
                            continue
                        }
                        switch event {
                        case .locked(let resource, _, let ttl):
                            if let ttl { tracker.track(resource, ttl: ttl) }
                        case .unlocked(let resource), .expired(let resource):
                            tracker.forget(resource)
                        case .gap:
                            // Locks taken while events were missed were never seen taken.
                            tracker.rediscover()
                        case .error:
                            break
                        }
                        if let filter, let resource = event.resource, !filter.matches(resource) { continue }
                        buffer.yield(event)
                    }
                    buffer.finish()
                    return nil
                }
                let executor = backend.preferredTaskExecutor
                group.addTask {
                    await withTaskExecutorPreference(executor) { await tracker.run() }
                    return nil
                }
                defer { group.cancelAll() }
                let result = try await body(buffer.eventStream)
                group.cancelAll()
                return result
            }
        }
    }

    /// The seed's expiration worker, as an explicit call: watches lock events and expires each
    /// lock at its deadline so `expired` events are timely for every watcher. Runs until the
    /// task is cancelled.
    public func runExpirationWorker() async throws {
        _ = try await events { stream in
            for await _ in stream {}
            return 0
        }
    }
}
