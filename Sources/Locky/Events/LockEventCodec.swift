import LockyRESP
import NIOCore
import Synchronization

/// Encodes and decodes the lock events the scripts publish: a kind byte (`L` locked, `U`
/// unlocked, `H` unlocked with the next fair waiter of each key, `T` a TTL shortened to the
/// TTL field, for the expiry watcher, ``BackendEvent``, and for waiters; only on a waiter's
/// wake channel: `G` a lock handed to it: token, attempt, key, waiter; `S` the TTL of a lock it
/// is first in the queue of was shortened: TTL, key, waiter), then length-prefixed fields
/// `<len>:<bytes>` (len in bytes): the TTL in ms, the holder's public name, the attempt tag
/// (``attemptTag(owner:)``), then one lock key per resource (for `H`, each followed by its next
/// waiter or an empty field). Binary-safe; anything malformed is dropped, never trusted.
///
/// The client builds the events of the hot paths itself and hands them to the scripts as an
/// argument: building strings in Lua cost the server more than the rest of the script.
enum LockEventCodec {
    /// The attempt tag of the events of `owner` (a lease's token or a locker id; nil for an
    /// unconditional unlock: empty): a keyed hash, so it tells one owner's events from another's
    /// without revealing the token. Redlock counts a change only when a quorum of nodes report it
    /// with the same tag: two attempts of one label that each took a minority are not a lock.
    /// Tags are compared, never recomputed, by subscribers, so each process may key its own.
    static func attemptTag(owner: String?) -> String {
        guard let owner, !owner.isEmpty else { return "" }
        // `Hasher` is seeded at random per process.
        return String(UInt32(truncatingIfNeeded: owner.hashValue), radix: 16)
    }

    /// The attempt tag of one unconditional unlock call: random, so that Redlock does not count
    /// the `U` reports of two unlocks (two cycles of a resource) as one change.
    static func unconditionalTag() -> String {
        "u" + String(UInt32.random(in: .min ... .max), radix: 16)
    }

    /// The attempt tag of one call that takes locks (an acquire attempt, `lock`, `refresh`; what
    /// Redlock gives back after one carries it, marked: ``RedlockEventMerger/giveBackTag(of:)``):
    /// random, as ``unconditionalTag()``. With the owner's
    /// own tag, two attempts of one lease, or two calls of one locker, that each took a minority
    /// of nodes and gave it back counted as a quorum: a `locked` and an `unlocked` of a lock
    /// nobody held. (A release and an owner-checked `unlock` keep the owner's tag, so that a
    /// retry after a partial failure completes its `unlocked`.)
    /// A counter from a random start: unique per call in this process, unrelated across
    /// processes, and no system call on the acquire path (as `random(in:)` makes on Linux).
    static func callTag() -> String {
        "c" + String(UInt32(truncatingIfNeeded: callTags.add(1, ordering: .relaxed).newValue), radix: 16)
    }

    private static let callTags = Atomic<UInt64>(UInt64.random(in: .min ... .max))

    /// Appends to `command` the `L` event of an acquisition of `resources` by `who` with
    /// `ttlMilliseconds` (0: none) and attempt tag `tag`, as one argument written in place.
    /// `tagged[i]` is ``LockKeyspace/hasHashTag(_:)`` of `resources[i]`.
    static func appendLocked(
        ttlMilliseconds: Int64, who: String, tag: String, resources: some Collection<String>, tagged: some Collection<Bool>,
        keyspace: LockKeyspace, to command: inout RESPCommand
    ) {
        let ttl = Int(ttlMilliseconds)
        let ttlLength = RESPBulkStringWriter.decimalLength(ttl)
        let length =
            1 + fieldLength(ttlLength) + fieldLength(who.utf8.count) + fieldLength(tag.utf8.count)
            + keyFieldsLength(resources, tagged, keyspace)
        command.appendBulkString(length: length) { writer in
            writer.write(byte: UInt8(ascii: "L"))
            writeFieldHeader(ttlLength, to: &writer)
            writer.write(decimal: ttl)
            writeFieldHeader(who.utf8.count, to: &writer)
            writer.write(who)
            writeFieldHeader(tag.utf8.count, to: &writer)
            writer.write(tag)
            writeKeyFields(resources, tagged, keyspace, to: &writer)
        }
    }

    /// Appends to `command` the `U` event of releasing all `resources`, as ``appendLocked``.
    static func appendUnlocked(
        resources: [String], tagged: [Bool], tag: String, keyspace: LockKeyspace, to command: inout RESPCommand
    ) {
        appendUnlocked(kind: UInt8(ascii: "U"), resources, tagged, tag, keyspace, to: &command)
    }

    /// Appends to `command` the `H` event of releasing `resource`, up to the next waiter's
    /// field (the script adds it).
    static func appendUnlockedHead(resource: String, tag: String, keyspace: LockKeyspace, to command: inout RESPCommand) {
        // CollectionOfOne: no array allocated on every release's path.
        appendUnlocked(
            kind: UInt8(ascii: "H"), CollectionOfOne(resource), CollectionOfOne(LockKeyspace.hasHashTag(resource)), tag,
            keyspace, to: &command)
    }

    private static func appendUnlocked(
        kind: UInt8, _ resources: some Collection<String>, _ tagged: some Collection<Bool>, _ tag: String,
        _ keyspace: LockKeyspace, to command: inout RESPCommand
    ) {
        let length = 1 + noTTLNorHolder.utf8.count + fieldLength(tag.utf8.count) + keyFieldsLength(resources, tagged, keyspace)
        command.appendBulkString(length: length) { writer in
            writer.write(byte: kind)
            writer.write(noTTLNorHolder)
            writeFieldHeader(tag.utf8.count, to: &writer)
            writer.write(tag)
            writeKeyFields(resources, tagged, keyspace, to: &writer)
        }
    }

    /// The TTL and holder fields of an unlocked event: `0` and empty.
    private static let noTTLNorHolder = "1:00:"

    /// The length of a field of `length` bytes: `<length>:<bytes>`.
    private static func fieldLength(_ length: Int) -> Int {
        RESPBulkStringWriter.decimalLength(length) + 1 + length
    }

    /// Writes a field's `<length>:`.
    private static func writeFieldHeader(_ length: Int, to writer: inout RESPBulkStringWriter) {
        writer.write(decimal: length)
        writer.write(byte: UInt8(ascii: ":"))
    }

    /// The length of the lock key fields of `resources`.
    private static func keyFieldsLength(
        _ resources: some Collection<String>, _ tagged: some Collection<Bool>, _ keyspace: LockKeyspace
    ) -> Int {
        var length = 0
        for (resource, tagged) in zip(resources, tagged) {
            length += fieldLength(keyspace.lockKeyLength(of: resource, tagged: tagged))
        }
        return length
    }

    /// Writes the lock key of each resource as a field.
    private static func writeKeyFields(
        _ resources: some Collection<String>, _ tagged: some Collection<Bool>, _ keyspace: LockKeyspace,
        to writer: inout RESPBulkStringWriter
    ) {
        for (resource, tagged) in zip(resources, tagged) {
            writeFieldHeader(keyspace.lockKeyLength(of: resource, tagged: tagged), to: &writer)
            writer.writeLockKey(of: resource, tagged: tagged, in: keyspace)
        }
    }

    /// The wake-up hints of an `H` (unlocked, with the next fair waiter per key), `U`, `T` (a
    /// TTL shortened), `G` (a fair hand-off) or `S` (a shortened TTL, told the first fair
    /// waiter) message, with the event's attempt tag (empty for `G` and `S`).
    static func taggedHints(_ payload: ByteBuffer, keyspace: LockKeyspace) -> (hints: [WakeHint], tag: String) {
        var buffer = payload
        // Every acquire publishes an `L` event, and every waiter of a client gets each message:
        // skip what cannot wake anyone before reading a field (reading the keys of every `L`
        // event once per waiter made N concurrent waiters cost N² decodes on the I/O thread).
        guard let kind = buffer.readInteger(as: UInt8.self),
            kind == UInt8(ascii: "H") || kind == UInt8(ascii: "U") || kind == UInt8(ascii: "G")
                || kind == UInt8(ascii: "T") || kind == UInt8(ascii: "S")
        else {
            return ([], "")
        }
        if kind == UInt8(ascii: "G") {
            // A fair hand-off, on a waiter's wake channel: token, attempt, lock key, waiter.
            guard let token = readField(&buffer).flatMap({ Int64($0) }),
                let attempt = readField(&buffer).flatMap({ Int($0) }),
                let key = readField(&buffer), let waiter = readField(&buffer),
                let resource = keyspace.resource(ofLockKey: key)
            else { return ([], "") }
            return ([.handedOver(resource: resource, waiter: waiter, fencingToken: token, attempt: attempt)], "")
        }
        if kind == UInt8(ascii: "S") {
            // A shortened TTL, on the wake channel of the queue's first waiter: TTL, lock key, waiter.
            guard let ttl = readField(&buffer).flatMap(shortenedTTL), let key = readField(&buffer),
                let waiter = readField(&buffer), let resource = keyspace.resource(ofLockKey: key)
            else { return ([], "") }
            return ([.ttlShortened(resource: resource, ttl: ttl, first: waiter)], "")
        }
        guard let ttlField = readField(&buffer), readField(&buffer) != nil, let tag = readField(&buffer) else {
            return ([], "")
        }
        var fields: [String] = []
        while buffer.readableBytes > 0 {
            guard let field = readField(&buffer) else { return ([], "") }
            fields.append(field)
        }
        switch kind {
        case UInt8(ascii: "H"):
            let hints: [WakeHint] = stride(from: 0, to: fields.count - 1, by: 2).compactMap { index in
                keyspace.resource(ofLockKey: fields[index]).map {
                    .released(resource: $0, next: fields[index + 1].isEmpty ? nil : fields[index + 1])
                }
            }
            return (hints, tag)
        case UInt8(ascii: "U"):
            return (fields.compactMap { keyspace.resource(ofLockKey: $0) }.map { .released(resource: $0, next: nil) }, tag)
        case UInt8(ascii: "T"):
            guard let ttl = shortenedTTL(ttlField) else { return ([], "") }
            return (
                fields.compactMap { keyspace.resource(ofLockKey: $0) }.map { .ttlShortened(resource: $0, ttl: ttl, first: nil) },
                tag
            )
        default:
            return ([], "")
        }
    }

    /// The events of one message, `T` (a TTL shortened, for the expiry watcher) included, and
    /// their attempt tag.
    static func decodeAll(_ payload: ByteBuffer, keyspace: LockKeyspace) -> (events: [BackendEvent], tag: String) {
        let none: (events: [BackendEvent], tag: String) = ([], "")
        var buffer = payload
        guard let kind = buffer.readInteger(as: UInt8.self),
            let ttlField = readField(&buffer),
            let who = readField(&buffer),
            let tag = readField(&buffer)
        else { return none }
        var keys: [String] = []
        while buffer.readableBytes > 0 {
            guard let key = readField(&buffer) else { return none }
            keys.append(key)
        }
        if kind == UInt8(ascii: "H") {
            // Pairs of lock key and next waiter: the keys are the even fields.
            keys = stride(from: 0, to: keys.count, by: 2).map { keys[$0] }
        }
        let resources = keys.compactMap(keyspace.resource(ofLockKey:))
        switch kind {
        case UInt8(ascii: "L"):
            let milliseconds = Int64(ttlField) ?? 0
            let ttl: Duration? = milliseconds > 0 ? .milliseconds(milliseconds) : nil
            return (resources.map { .lock(.locked(resource: $0, locker: who, ttl: ttl)) }, tag)
        case UInt8(ascii: "U"), UInt8(ascii: "H"):
            return (resources.map { .lock(.unlocked(resource: $0)) }, tag)
        case UInt8(ascii: "T"):
            guard let ttl = shortenedTTL(ttlField) else { return none }
            return (resources.map { .ttlShortened(resource: $0, ttl: ttl) }, tag)
        default:
            return none
        }
    }

    /// The TTL field of a shortened TTL: a positive number of milliseconds, else nil (malformed).
    private static func shortenedTTL(_ field: String) -> Duration? {
        guard let milliseconds = Int64(field), milliseconds > 0 else { return nil }
        return .milliseconds(milliseconds)
    }

    private static func readField(_ buffer: inout ByteBuffer) -> String? {
        var length = 0
        var digits = 0
        while let byte = buffer.readInteger(as: UInt8.self) {
            if byte == UInt8(ascii: ":") { break }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 9 else { return nil }
            length = length * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
        }
        guard digits > 0, let bytes = buffer.readBytes(length: length) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
