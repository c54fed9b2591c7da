import LockyRESP

extension RESPBulkStringWriter {
    /// Writes the lock key of `resource` in `keyspace` (``LockKeyspace/lockKeyLength(of:tagged:)``
    /// bytes) from its parts: prefix, `{`, name, `}`, or prefix and name when `tagged`.
    mutating func writeLockKey(of resource: String, tagged: Bool, in keyspace: LockKeyspace) {
        write(keyspace.prefix)
        if !tagged { write(byte: UInt8(ascii: "{")) }
        write(resource)
        if !tagged { write(byte: UInt8(ascii: "}")) }
    }
}
