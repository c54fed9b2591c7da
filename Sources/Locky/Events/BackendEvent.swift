/// What a backend's event stream carries: the public ``LockEvent``s, and news that only the
/// expiry watcher needs. ``LockEventStream``'s own iterator passes on the public events alone.
enum BackendEvent: Sendable {
    /// An event every consumer sees.
    case lock(LockEvent)
    /// `resource`'s lock now expires `ttl` from now, earlier than it did (an extend, refresh,
    /// re-lock or renewal with less than was left). Published only then: a lengthened TTL is
    /// found by the watcher when it looks at the old deadline. Not a ``LockEvent``: it would
    /// tell users of a change only some of the time.
    case ttlShortened(resource: String, ttl: Duration)
}
