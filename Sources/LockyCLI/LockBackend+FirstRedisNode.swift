import Locky
import LockyRedis

extension LockBackend {
    /// The Redis server to inspect directly (demo counters): the server itself, or on Redlock the first node.
    var firstRedisNode: RedisLockBackend? {
        if let redis = self as? RedisLockBackend { return redis }
        return (self as? RedlockBackend)?.nodeBackends.first
    }

    /// Every Redis server behind the backend (`status` scans them all), each with its address:
    /// the server itself, or Redlock's nodes; none in memory.
    var redisNodes: [(address: String, backend: RedisLockBackend)] {
        if let redis = self as? RedisLockBackend { return [(redis.client.configuration.address.description, redis)] }
        guard let redlock = self as? RedlockBackend else { return [] }
        return Array(zip(redlock.nodeAddresses, redlock.nodeBackends))
    }
}
