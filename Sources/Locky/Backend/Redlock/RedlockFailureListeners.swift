import Synchronization

/// Where a ``RedlockBackend`` reports node failures that did not break the quorum (the seed's
/// `clientError`): every event handler open on the backend gets them as ``LockEvent/error(_:)``.
final class RedlockFailureListeners: Sendable {
    private let listeners = Mutex<[UInt64: @Sendable (LockEvent) -> Void]>([:])
    private let nextID = Atomic<UInt64>(0)

    /// Runs `body` while `handler` receives failure events.
    func withListener<T>(_ handler: @escaping @Sendable (LockEvent) -> Void, _ body: () async throws -> T) async rethrows -> T {
        let id = nextID.add(1, ordering: .relaxed).newValue
        listeners.withLock { $0[id] = handler }
        defer { _ = listeners.withLock { $0.removeValue(forKey: id) } }
        return try await body()
    }

    /// Hands `error` to every listener.
    func report(_ error: LockError) {
        let handlers = listeners.withLock { Array($0.values) }
        for handler in handlers { handler(.error(error)) }
    }
}
