/// The answer to a fair acquire (``LockBackend/acquireFair(_:owner:ttl:waiter:waiterTTL:attempt:)``).
public enum FairAcquireReply: Sendable, Hashable {
    /// Taken; the new fencing token.
    case acquired(fencingToken: Int64)
    /// A release already handed the lock to this owner (see ``WakeHint/handedOver(resource:waiter:fencingToken:attempt:)``);
    /// `remaining` is its time to live when this call read it (nil: no expiry).
    case handedOver(fencingToken: Int64, remaining: Duration?)
    /// Not taken: the caller is queued. `holder` holds the lock (nil while it is free but
    /// another waiter is first); `first` tells whether the caller is now first in the queue.
    case queued(holder: LockHolder?, first: Bool)
}
