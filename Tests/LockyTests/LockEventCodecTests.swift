import LockyRESP
import NIOCore
import Testing

@testable import Locky

/// The events the client builds for the scripts to publish, from resource names (the keys and
/// events are written in place into the command, never built as Strings): each decodes back to
/// its resources, with fields that are exactly the lock keys of ``LockKeyspace/lockKey(_:)``.
@Suite struct LockEventCodecTests {
    static let names = ArgumentConformanceTests.oddNames + ["plain", "{own-tag}:x", "a{}b", String(repeating: "é", count: 700)]

    @Test(arguments: ["locky:", "app:", "p"])
    func eventsFromResourcesDecodeToTheSameResources(prefix: String) throws {
        let keyspace = try LockKeyspace(prefix: prefix)
        let tagged = Self.names.map(LockKeyspace.hasHashTag)
        for ttl in [1500, 0, 2_592_000_000] as [Int64] {
            let locked = Self.argument {
                LockEventCodec.appendLocked(
                    ttlMilliseconds: ttl, who: "worker ✓", tag: "7f3a", resources: Self.names, tagged: tagged, keyspace: keyspace,
                    to: &$0)
            }
            #expect(LockEventCodec.decode(locked, keyspace: keyspace).tag == "7f3a")
            #expect(
                LockEventCodec.decode(locked, keyspace: keyspace).events.map(LockEventTests.describe)
                    == Self.names.map {
                        LockEventTests.describe(
                            .locked(resource: $0, locker: "worker ✓", ttl: ttl == 0 ? nil : .milliseconds(ttl)))
                    }
            )
        }
        let unlocked = Self.argument {
            LockEventCodec.appendUnlocked(resources: Self.names, tagged: tagged, tag: "", keyspace: keyspace, to: &$0)
        }
        #expect(
            LockEventCodec.decode(unlocked, keyspace: keyspace).events.map(LockEventTests.describe)
                == Self.names.map { LockEventTests.describe(.unlocked(resource: $0)) })

        // Byte for byte: each field is `<UTF-8 length>:<lock key>`.
        let expected =
            "U1:00:0:"
            + Self.names.map { name in
                let key = keyspace.lockKey(name)
                return "\(key.utf8.count):\(key)"
            }.joined()
        #expect(String(buffer: unlocked) == expected)
        let key = keyspace.lockKey("{own-tag}:x")
        let head = Self.argument {
            LockEventCodec.appendUnlockedHead(resource: "{own-tag}:x", tag: "c0ffee", keyspace: keyspace, to: &$0)
        }
        #expect(String(buffer: head) == "H1:00:6:c0ffee\(key.utf8.count):\(key)")
    }

    /// A `T` message (a TTL shortened, as the scripts publish it) is news for the expiry
    /// watcher only: `decodeAll` reads it, the public events have none; one without a TTL is
    /// malformed and dropped.
    @Test func aShortenedTTLIsNewsForTheWatcherOnly() throws {
        let keyspace = try LockKeyspace(prefix: "locky:")
        let keys = ["plain", "{t}:x"].map { keyspace.lockKey($0) }
        let message = "T3:2000:4:7f3a" + keys.map { "\($0.utf8.count):\($0)" }.joined()
        let decoded = LockEventCodec.decodeAll(ByteBuffer(string: message), keyspace: keyspace)
        #expect(decoded.tag == "7f3a")
        let news = decoded.events.map { event -> String in
            guard case .ttlShortened(let resource, let ttl) = event else { return "other" }
            return "\(resource) \(ttl.wholeMilliseconds)"
        }
        #expect(news == ["plain 200", "{t}:x 200"])
        #expect(LockEventCodec.decode(ByteBuffer(string: message), keyspace: keyspace).events.isEmpty)
        let key = keys[0]
        let noTTL = "T1:00:0:\(key.utf8.count):\(key)"
        #expect(LockEventCodec.decodeAll(ByteBuffer(string: noTTL), keyspace: keyspace).events.isEmpty)
    }

    /// A `T` message wakes waiters too: one hint per key, with the event's tag; an `S` message
    /// (on a wake channel) names the queue's first waiter. Malformed ones wake nobody.
    @Test func aShortenedTTLWakesTheFirstWaiter() throws {
        let keyspace = try LockKeyspace(prefix: "locky:")
        let keys = ["plain", "{t}:x"].map { keyspace.lockKey($0) }
        let message = "T3:3000:4:7f3a" + keys.map { "\($0.utf8.count):\($0)" }.joined()
        let hints = LockEventCodec.taggedHints(ByteBuffer(string: message), keyspace: keyspace)
        #expect(hints.tag == "7f3a")
        #expect(
            hints.hints == [
                .ttlShortened(resource: "plain", ttl: .milliseconds(300), first: nil),
                .ttlShortened(resource: "{t}:x", ttl: .milliseconds(300), first: nil),
            ])
        let key = keys[0]
        let addressed = "S3:300\(key.utf8.count):\(key)8:c0ffee.7"
        #expect(
            LockEventCodec.taggedHints(ByteBuffer(string: addressed), keyspace: keyspace).hints == [
                .ttlShortened(resource: "plain", ttl: .milliseconds(300), first: "c0ffee.7")
            ])
        for malformed in [
            "T1:00:0:\(key.utf8.count):\(key)", "S1:0\(key.utf8.count):\(key)1:w", "S3:300\(key.utf8.count):\(key)",
        ] {
            #expect(LockEventCodec.taggedHints(ByteBuffer(string: malformed), keyspace: keyspace).hints.isEmpty, "\(malformed)")
        }
    }

    /// One owner's events carry one tag, another owner's another; the tag is not the token.
    @Test func attemptTagsTellOwnersApartWithoutShowingThem() {
        let owner = "worker-1:0123456789abcdef0123456789abcdef"
        let tag = LockEventCodec.attemptTag(owner: owner)
        #expect(!tag.isEmpty && tag.utf8.count <= 8)
        #expect(LockEventCodec.attemptTag(owner: owner) == tag)
        #expect(!owner.contains(tag) || tag.count < 4)
        #expect(LockEventCodec.attemptTag(owner: "worker-1:0123456789abcdef0123456789abcdee") != tag)
        #expect(LockEventCodec.attemptTag(owner: nil) == "")
    }

    /// The one argument that `append` adds to a command, as the script receives it.
    static func argument(_ append: (inout RESPCommand) -> Void) -> ByteBuffer {
        var command = RESPCommand("X")
        let before = command.arguments.readableBytes
        append(&command)
        var bytes = command.arguments
        bytes.moveReaderIndex(forwardBy: before)
        // `$<length>\r\n<bytes>\r\n`
        let header = bytes.readableBytesView.firstIndex(of: UInt8(ascii: "\n")).map { $0 - bytes.readerIndex + 1 } ?? 0
        let digits = bytes.readBytes(length: header)?.dropFirst().dropLast(2) ?? []
        let length = Int(String(decoding: digits, as: UTF8.self)) ?? -1
        let content = bytes.readSlice(length: length) ?? ByteBuffer()
        #expect(String(buffer: bytes) == "\r\n")
        return content
    }
}

extension LockEventCodec {
    /// The public events of one message (what a loop over a ``LockEventStream`` sees of it),
    /// and their attempt tag.
    static func decode(_ payload: ByteBuffer, keyspace: LockKeyspace) -> (events: [LockEvent], tag: String) {
        let decoded = decodeAll(payload, keyspace: keyspace)
        let events = decoded.events.compactMap { event -> LockEvent? in
            if case .lock(let event) = event { return event }
            return nil
        }
        return (events, decoded.tag)
    }
}
