/// The answer to a fair acquire (``LockBackend/acquireFair(_:owner:ttl:waiter:waiterTTL:)``).
public enum FairAcquireReply: Sendable, Hashable {
    /// Taken; the new fencing token.
    case acquired(fencingToken: Int64)
    /// Not taken: the caller is queued. `holder` holds the lock (nil while it is free but
    /// another waiter is first); `first` tells whether the caller is now first in the queue.
    case queued(holder: LockHolder?, first: Bool)
}
