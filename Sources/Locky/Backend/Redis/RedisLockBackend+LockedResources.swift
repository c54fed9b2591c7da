import LockyRESP
import LockyRedis

extension RedisLockBackend {
    /// Every resource whose lock key exists: `SCAN` over `<prefix>*` in pages of 1,000 (never
    /// `KEYS`, which blocks a busy server), keeping lock keys only (not fences, queues or other
    /// keys under the prefix). Non-UTF-8 keys are no resource of ours (names are Strings).
    public func lockedResources() async throws(LockError) -> [String] {
        let match = Self.escapeGlob(keyspace.prefix) + "*"
        var resources: [String] = []
        var cursor = "0"
        repeat {
            // Each page: a close between two pages sends no more of them.
            try refuseIfClosed(during: "SCAN")
            let reply: RESPToken
            do {
                reply = try await client.execute(RESPCommand("SCAN", cursor, "MATCH", match, "COUNT", 1000))
            } catch {
                throw LockError(error, during: "SCAN")
            }
            guard case .array(let parts) = reply.value, parts.count == 2 else {
                throw LockError(.serverError, "SCAN answered with an unexpected reply")
            }
            var iterator = parts.makeIterator()
            guard let cursorToken = iterator.next(), let keysToken = iterator.next(), case .array(let keys) = keysToken.value,
                let next = try? String(fromRESP: cursorToken)
            else {
                throw LockError(.serverError, "SCAN answered with an unexpected reply")
            }
            cursor = next
            for keyToken in keys {
                guard let key = try? String(fromRESP: keyToken), let resource = keyspace.resource(ofLockKey: key) else {
                    continue
                }
                resources.append(resource)
            }
        } while cursor != "0"
        return resources
    }

    /// Escapes `*`, `?`, `[`, `]` and `\` so the prefix matches only itself in `SCAN MATCH`.
    static func escapeGlob(_ text: String) -> String {
        // Scalars, not Characters: `\` or `[` followed by a combining mark is one Character,
        // which is none of these, and was left unescaped (SCAN then matched no key of the prefix).
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if "*?[]\\".unicodeScalars.contains(scalar) { escaped.append("\\") }
            escaped.append(scalar)
        }
        return String(escaped)
    }
}
