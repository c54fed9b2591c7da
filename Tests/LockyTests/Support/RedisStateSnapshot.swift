import LockyRESP
import LockyRedis
import NIOCore

/// Every key of a Redis database with its serialized value (`DUMP`, so any change to a value
/// shows), and the key count (`DBSIZE`). Expiry times are left out: they move on their own.
struct RedisStateSnapshot: Sendable, Equatable {
    let size: Int64
    let values: [String: [UInt8]]

    /// Reads the database through `raw` (SCAN, never KEYS).
    static func take(_ raw: RedisClient) async throws -> RedisStateSnapshot {
        let sizeReply = try await raw.execute(RESPCommand("DBSIZE"))
        guard case .number(let size) = sizeReply.value else { throw HarnessFailure("DBSIZE answered \(sizeReply)") }
        var keys: [String] = []
        var cursor = "0"
        repeat {
            let reply = try await raw.execute(RESPCommand("SCAN", cursor, "COUNT", 1000))
            guard case .array(let parts) = reply.value else { throw HarnessFailure("SCAN answered \(reply)") }
            var iterator = parts.makeIterator()
            guard let cursorToken = iterator.next(), let keysToken = iterator.next(), case .array(let found) = keysToken.value
            else { throw HarnessFailure("SCAN answered \(reply)") }
            cursor = try cursorToken.decode(as: String.self)
            for key in found { keys.append(try key.decode(as: String.self)) }
        } while cursor != "0"
        var values: [String: [UInt8]] = [:]
        let dumps = await raw.execute(batch: keys.map { RESPCommand("DUMP", $0) })
        for (key, dump) in zip(keys, dumps) {
            let token = try dump.get()
            switch token.value {
            case .bulkString(let bytes): values[key] = Array(bytes.readableBytesView)
            default: values[key] = []  // gone between SCAN and DUMP (expired)
            }
        }
        return RedisStateSnapshot(size: size, values: values)
    }

    /// Keys added, removed or changed since `earlier`.
    func changedKeys(since earlier: RedisStateSnapshot) -> Set<String> {
        var changed = Set<String>()
        for key in Set(values.keys).union(earlier.values.keys) where values[key] != earlier.values[key] {
            changed.insert(key)
        }
        return changed
    }
}
