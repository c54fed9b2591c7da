import Locky

extension LockBackend {
    /// The Redis server to inspect directly (`SCAN`, demo counters): the server itself, or on
    /// Redlock the first node (whose view `status` shows).
    var firstRedisNode: RedisLockBackend? {
        if let redis = self as? RedisLockBackend { return redis }
        return (self as? RedlockBackend)?.nodeBackends.first
    }
}
