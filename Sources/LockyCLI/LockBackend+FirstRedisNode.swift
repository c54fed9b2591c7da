import Locky
import LockyRedis

extension LockBackend {
    /// The Redis server to inspect directly (demo counters): the server itself, or on Redlock the first node.
    var firstRedisNode: RedisLockBackend? {
        if let redis = self as? RedisLockBackend { return redis }
        return (self as? RedlockBackend)?.nodeBackends.first
    }
}
