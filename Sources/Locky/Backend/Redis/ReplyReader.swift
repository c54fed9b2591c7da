import LockyRESP
import NIOCore

/// Reads the flat array a lock script returns, element by element, with typed errors.
struct ReplyReader {
    private var iterator: RESPToken.Array.Iterator?

    init(_ token: RESPToken) {
        if case .array(let array) = token.value {
            iterator = array.makeIterator()
        }
    }

    private mutating func next() throws(LockError) -> RESPToken {
        guard let token = iterator?.next() else {
            throw LockError(.serverError, "a lock script returned fewer values than expected")
        }
        return token
    }

    /// The type of a reply, never its content: a misplaced value may be an owner token, and
    /// error messages must not carry those.
    static func kind(of token: RESPToken) -> String {
        token.typeIdentifier.map { "a \($0)" } ?? "a malformed value"
    }

    mutating func int() throws(LockError) -> Int64 {
        let token = try next()
        switch token.value {
        case .number(let value): return value
        case .boolean(let value): return value ? 1 : 0
        case .null: return 0
        default: throw LockError(.serverError, "a lock script returned \(Self.kind(of: token)) where a number was expected")
        }
    }

    /// A string, or nil for Lua's `false` (null in RESP2, null or `#f` in RESP3).
    mutating func optionalString() throws(LockError) -> String? {
        try optionalBytes().map { String(buffer: $0) }
    }

    mutating func optionalBytes() throws(LockError) -> ByteBuffer? {
        let token = try next()
        switch token.value {
        case .bulkString(let bytes), .simpleString(let bytes): return bytes
        case .null, .boolean(false): return nil
        default: throw LockError(.serverError, "a lock script returned \(Self.kind(of: token)) where a string was expected")
        }
    }

    /// `holder, pttl, token` → a holder, or nil when free.
    mutating func holder() throws(LockError) -> LockHolder? {
        let owner = try optionalString()
        let pttl = try int()
        let token = try int()
        guard let owner else { return nil }
        return LockHolder(owner: owner, remaining: RedisLockBackend.remaining(pttl), fencingToken: token)
    }
}
