/// What wakes a waiting acquire: a release or expiry of a resource, naming the first waiter of
/// its fair queue when there is one, news that its holder's TTL was shortened, or a gap (events
/// may have been missed).
public enum WakeHint: Sendable, Hashable {
    /// `resource` became free; `next` is the fair queue's first waiter, if known.
    case released(resource: String, next: String?)
    /// A release handed `resource` to the fair `waiter` (it holds it now, with this fencing
    /// token); `attempt` is the waiter's fair acquire that queued it last before the hand-off.
    case handedOver(resource: String, waiter: String, fencingToken: Int64, attempt: Int)
    /// `resource`'s holder now expires `ttl` after the change, earlier than it did (an extend,
    /// refresh, re-lock or renewal with less than was left); `first` is the fair queue's first
    /// waiter, if known. Still held: it wakes only the first local waiter of `resource` (the
    /// one that watches the holder's expiry), which tries again and so learns the new deadline.
    case ttlShortened(resource: String, ttl: Duration, first: String?)
    /// Events may have been missed: every waiter should retry.
    case gap
}
