import NIOCore

extension LockClient {
    /// Stores `value` under `key` only if `fencingToken` is at least the highest token seen
    /// for that key; a stale holder's write is rejected and changes nothing.
    ///
    /// This is what makes fencing tokens useful for data kept in Redis itself: pass the
    /// ``Lease/fencingToken`` of the lease that protects the data. The key holds a hash with
    /// the fields `value`, `written` (the token of the write) and `fence` (the highest token
    /// seen); read it with ``fencedRead(_:)``. Name a key of your own: a lock, fence or queue
    /// key of the prefix that exists is refused with `serverError` (WRONGTYPE), in memory too.
    /// On Redis a value longer than the client takes in a reply (`limits.maximumBulkLength` of
    /// its `RedisConfiguration`, 64 MiB by default) is refused with `invalidArgument` before it
    /// is sent: Redis would store it, and no read could bring it back.
    public func fencedWrite(_ value: ByteBuffer, to key: String, fencingToken: Int64) async throws(LockError)
        -> FencedWriteOutcome
    {
        try Self.validateFencing(key: key, fencingToken: fencingToken)
        return try await backend.fencedWrite(key: key, value: value, fencingToken: fencingToken)
    }

    /// Stores a string; see ``fencedWrite(_:to:fencingToken:)-(ByteBuffer,_,_)``.
    public func fencedWrite(_ value: String, to key: String, fencingToken: Int64) async throws(LockError) -> FencedWriteOutcome {
        try await fencedWrite(ByteBuffer(string: value), to: key, fencingToken: fencingToken)
    }

    /// Reads a value written with the fencing helper, or nil when there is none.
    public func fencedRead(_ key: String) async throws(LockError) -> FencedValue? {
        guard !key.isEmpty else { throw LockError(.invalidArgument, "the key is empty") }
        return try await backend.fencedRead(key: key)
    }

    /// Reads a value for a read-modify-write under a lease: only if `fencingToken` is at least
    /// the highest token seen for `key`, raising the key's fence to it in the same step. From
    /// then on, writes of older holders are refused, so none can slip in between this read and
    /// the write that follows it (a plain read would let a stale holder's write land there,
    /// and the update it made would be lost).
    public func fencedRead(_ key: String, fencingToken: Int64) async throws(LockError) -> FencedReadOutcome {
        try Self.validateFencing(key: key, fencingToken: fencingToken)
        return try await backend.fencedRead(key: key, fencingToken: fencingToken)
    }

    private static func validateFencing(key: String, fencingToken: Int64) throws(LockError) {
        guard !key.isEmpty else { throw LockError(.invalidArgument, "the key is empty") }
        guard fencingToken >= 0 else { throw LockError(.invalidArgument, "a fencing token is never negative") }
        // Lua compares numbers as doubles: above 2^53 two tokens could compare equal. A read
        // raises the fence too, so it is held to the same bound (or no write could pass it again).
        guard fencingToken <= 1 << 53 else { throw LockError(.invalidArgument, "a fencing token is at most 2^53") }
    }
}
