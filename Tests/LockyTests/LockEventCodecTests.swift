import NIOCore
import Testing

@testable import Locky

/// The events the client builds for the scripts to publish, from resource names (the keys are
/// written in place, never built as Strings): each decodes back to its resources, with fields
/// that are exactly the lock keys of ``LockKeyspace/lockKey(_:)``.
@Suite struct LockEventCodecTests {
    static let names = ArgumentConformanceTests.oddNames + ["plain", "{own-tag}:x", "a{}b"]

    @Test(arguments: ["locky:", "app:", "p"])
    func eventsFromResourcesDecodeToTheSameResources(prefix: String) throws {
        let keyspace = try LockKeyspace(prefix: prefix)
        let locked = LockEventCodec.locked(ttlMilliseconds: 1500, who: "worker ✓", resources: Self.names, keyspace: keyspace)
        #expect(
            LockEventCodec.decode(ByteBuffer(string: locked), keyspace: keyspace).map(LockEventTests.describe)
                == Self.names.map { LockEventTests.describe(.locked(resource: $0, locker: "worker ✓", ttl: .milliseconds(1500))) }
        )
        let unlocked = LockEventCodec.unlocked(resources: Self.names, keyspace: keyspace)
        #expect(
            LockEventCodec.decode(ByteBuffer(string: unlocked), keyspace: keyspace).map(LockEventTests.describe)
                == Self.names.map { LockEventTests.describe(.unlocked(resource: $0)) })

        // Byte for byte: each field is `<UTF-8 length>:<lock key>`.
        let expected =
            "U1:00:"
            + Self.names.map { name in
                let key = keyspace.lockKey(name)
                return "\(key.utf8.count):\(key)"
            }.joined()
        #expect(unlocked == expected)
        let key = keyspace.lockKey("{own-tag}:x")
        #expect(LockEventCodec.unlockedHead(resource: "{own-tag}:x", keyspace: keyspace) == "H1:00:\(key.utf8.count):\(key)")
    }
}
