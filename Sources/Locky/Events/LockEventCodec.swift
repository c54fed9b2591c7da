import NIOCore

/// Encodes and decodes the lock events the scripts publish: a kind byte (`L` locked, `U`
/// unlocked, `H` unlocked with the next fair waiter of each key; `G`, only on a waiter's wake
/// channel, a lock handed to it: token, attempt, key, waiter), then length-prefixed fields
/// `<len>:<bytes>` (len in bytes): the TTL in ms, the holder's public name, then one lock key
/// per resource (for `H`, each followed by its next waiter or an empty field). Binary-safe;
/// anything malformed is dropped, never trusted.
///
/// The client builds the events of the hot paths itself and hands them to the scripts as an
/// argument: building strings in Lua cost the server more than the rest of the script.
enum LockEventCodec {
    /// The `L` event of an acquisition of `resources` by `who` with `ttlMilliseconds` (0: none).
    static func locked(ttlMilliseconds: Int64, who: String, resources: [String], keyspace: LockKeyspace) -> String {
        var event = "L"
        event.reserveCapacity(16 + who.utf8.count + keyFieldsLength(resources, keyspace))
        appendField(String(ttlMilliseconds), to: &event)
        appendField(who, to: &event)
        for resource in resources { appendKeyField(of: resource, keyspace: keyspace, to: &event) }
        return event
    }

    /// The `U` event of releasing all `resources`.
    static func unlocked(resources: [String], keyspace: LockKeyspace) -> String {
        var event = "U1:00:"
        event.reserveCapacity(event.utf8.count + keyFieldsLength(resources, keyspace))
        for resource in resources { appendKeyField(of: resource, keyspace: keyspace, to: &event) }
        return event
    }

    /// The `H` event of releasing `resource`, up to the next waiter's field (the script adds it).
    static func unlockedHead(resource: String, keyspace: LockKeyspace) -> String {
        var event = "H1:00:"
        appendKeyField(of: resource, keyspace: keyspace, to: &event)
        return event
    }

    private static func appendField(_ field: String, to event: inout String) {
        event += String(field.utf8.count)
        event += ":"
        event += field
    }

    /// The lock key of `resource` as a field, written in place (no String per key).
    private static func appendKeyField(of resource: String, keyspace: LockKeyspace, to event: inout String) {
        let (open, close) = keyspace.braces(resource)
        event += String(keyspace.prefix.utf8.count + open.utf8.count + resource.utf8.count + close.utf8.count)
        event += ":"
        event += keyspace.prefix
        event += open
        event += resource
        event += close
    }

    /// About the length of the key fields of `resources` (for reserving capacity).
    private static func keyFieldsLength(_ resources: [String], _ keyspace: LockKeyspace) -> Int {
        resources.reduce(0) { $0 + $1.utf8.count + keyspace.prefix.utf8.count + 6 }
    }

    /// The wake-up hints of an `H` (unlocked, with the next fair waiter per key) or `U` event.
    static func hints(_ payload: ByteBuffer, keyspace: LockKeyspace) -> [WakeHint] {
        var buffer = payload
        // Every acquire publishes an `L` event, and every waiter of a client gets each message:
        // skip what cannot wake anyone before reading a field (reading the keys of every `L`
        // event once per waiter made N concurrent waiters cost N² decodes on the I/O thread).
        guard let kind = buffer.readInteger(as: UInt8.self),
            kind == UInt8(ascii: "H") || kind == UInt8(ascii: "U") || kind == UInt8(ascii: "G")
        else {
            return []
        }
        if kind == UInt8(ascii: "G") {
            // A fair hand-off, on a waiter's wake channel: token, attempt, lock key, waiter.
            guard let token = readField(&buffer).flatMap({ Int64($0) }),
                let attempt = readField(&buffer).flatMap({ Int($0) }),
                let key = readField(&buffer), let waiter = readField(&buffer),
                let resource = keyspace.resource(ofLockKey: key)
            else { return [] }
            return [.handedOver(resource: resource, waiter: waiter, fencingToken: token, attempt: attempt)]
        }
        guard readField(&buffer) != nil, readField(&buffer) != nil else { return [] }
        var fields: [String] = []
        while buffer.readableBytes > 0 {
            guard let field = readField(&buffer) else { return [] }
            fields.append(field)
        }
        switch kind {
        case UInt8(ascii: "H"):
            return stride(from: 0, to: fields.count - 1, by: 2).compactMap { index in
                keyspace.resource(ofLockKey: fields[index]).map {
                    .released(resource: $0, next: fields[index + 1].isEmpty ? nil : fields[index + 1])
                }
            }
        case UInt8(ascii: "U"):
            return fields.compactMap { keyspace.resource(ofLockKey: $0) }.map { .released(resource: $0, next: nil) }
        default:
            return []
        }
    }

    static func decode(_ payload: ByteBuffer, keyspace: LockKeyspace) -> [LockEvent] {
        var buffer = payload
        guard let kind = buffer.readInteger(as: UInt8.self),
            let ttlField = readField(&buffer),
            let who = readField(&buffer)
        else { return [] }
        var keys: [String] = []
        while buffer.readableBytes > 0 {
            guard let key = readField(&buffer) else { return [] }
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
            return resources.map { .locked(resource: $0, locker: who, ttl: ttl) }
        case UInt8(ascii: "U"), UInt8(ascii: "H"):
            return resources.map { .unlocked(resource: $0) }
        default:
            return []
        }
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
