import LockyRESP
import LockyTestSupport
import NIOCore
import Testing

@testable import LockyRedis

@Suite struct DurationParserTests {
    static let valid: [(String, Duration)] = [
        ("500ms", .milliseconds(500)),
        ("500", .milliseconds(500)),
        ("0.5", .microseconds(500)),
        ("2s", .seconds(2)),
        ("1.5s", .milliseconds(1500)),
        ("250us", .microseconds(250)),
        ("250µs", .microseconds(250)),
        ("10ns", .nanoseconds(10)),
        ("2m", .seconds(120)),
        ("2min", .seconds(120)),
        ("1h", .seconds(3600)),
        ("  3s ", .seconds(3)),
        ("0", .zero),
        ("0ms", .zero),
        (".5s", .milliseconds(500)),
        // Days, and every unit in any case.
        ("1d", .seconds(86_400)),
        ("1.5d", .seconds(129_600)),
        ("10S", .seconds(10)),
        ("5Ms", .milliseconds(5)),
        ("5MS", .milliseconds(5)),
        ("2M", .seconds(120)),
        ("2MIN", .seconds(120)),
        ("1H", .seconds(3600)),
        ("1D", .seconds(86_400)),
        ("250US", .microseconds(250)),
        ("250\u{3BC}s", .microseconds(250)),
        ("10NS", .nanoseconds(10)),
    ]

    @Test(arguments: valid)
    func parses(text: String, expected: Duration) {
        #expect(DurationParser.parse(text) == expected, "\(text)")
    }

    @Test(arguments: [
        "", " ", "ms", "s", "-1", "-5ms", "1e3", "1..2s", "1.2.3", "5x", "5 s", "5sec", "abc", "inf", "nan", "1y", "1w", "1dd",
        "d", "-1d",
    ])
    func rejects(text: String) {
        #expect(DurationParser.parse(text) == nil, "\(text)")
    }

    @Test func rejectsDurationsThatWouldOverflow() {
        #expect(DurationParser.parse("9999999999s") == nil)
        #expect(DurationParser.parse("3000000h") == nil)
        #expect(DurationParser.parse("100000h") == .seconds(360_000_000))
        #expect(DurationParser.parse("200000d") == nil)
        #expect(DurationParser.parse("100000d") == .seconds(8_640_000_000))
    }

    @Test func acceptsSubstrings() {
        let text = "timeout=750ms"
        let value = text.split(separator: "=")[1]
        #expect(DurationParser.parse(value) == .milliseconds(750))
    }
}

@Suite struct SHA1Tests {
    @Test(arguments: [
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        ),
        (
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "a49b2446a02c645bf419f995b67091253a04a259"
        ),
        ("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
    ])
    func standardVectors(input: String, digest: String) {
        #expect(SHA1.hexDigest(Array(input.utf8)) == digest)
        #expect(SHA1.hexDigest(input.utf8) == digest)
    }

    @Test func oneMillionAs() {
        let input = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA1.hexDigest(input) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    /// Lengths around the 55/56/64-byte padding boundaries, checked against digests computed with `sha1sum`.
    @Test(arguments: [
        (55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"),
        (56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"),
        (63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"),
        (64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"),
        (65, "11655326c708d70319be2610e8a57d9a5b959d3b"),
    ])
    func paddingBoundaries(length: Int, digest: String) {
        #expect(SHA1.hexDigest([UInt8](repeating: UInt8(ascii: "a"), count: length)) == digest)
    }

    @Test func scriptUsesTheDigestOfItsSource() {
        let script = RedisScript(name: "t", source: "return 1")
        #expect(script.sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
        #expect(script.sha1.count == 40)
        #expect(script.loadCommand.name == "SCRIPT")
        #expect(script.evalSHA(keyCount: 2).count == 3)
    }
}

@Suite struct CommandQueueTests {
    let base = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func repliesAreMatchedInOrder() {
        var queue = RedisCommandQueue<String>()
        #expect(queue.isEmpty)
        #expect(queue.receive() == nil)
        for id in 1...3 {
            queue.append(id: UInt64(id), sink: "caller-\(id)", deadline: base + .seconds(Int64(id)))
        }
        #expect(queue.count == 3)
        #expect(queue.receive()?.sink == "caller-1")
        #expect(queue.receive()?.sink == "caller-2")
        queue.append(id: 4, sink: "caller-4", deadline: base)
        #expect(queue.receive()?.id == 3)
        #expect(queue.receive()?.id == 4)
        #expect(queue.receive() == nil)
        #expect(queue.isEmpty)
    }

    @Test func cancelKeepsTheSlotAndReturnsTheSink() {
        var queue = RedisCommandQueue<String>()
        queue.append(id: 10, sink: "a", deadline: base)
        queue.append(id: 11, sink: "b", deadline: base)
        queue.append(id: 12, sink: "c", deadline: base)

        #expect(queue.cancel(11) == "b")
        #expect(queue.count == 3, "the cancelled command still waits for its reply")
        #expect(queue.cancel(11) == nil, "a second cancel has nothing to return")
        #expect(queue.cancel(99) == nil)

        let first = queue.receive()
        #expect(first?.id == 10)
        #expect(first?.sink == "a")
        let second = queue.receive()
        #expect(second?.id == 11)
        #expect(second?.sink == nil, "the late reply of the cancelled command is consumed and dropped")
        #expect(queue.receive()?.sink == "c")
    }

    @Test func cancelledHeadStillHoldsItsDeadline() {
        var queue = RedisCommandQueue<String>()
        queue.append(id: 1, sink: "a", deadline: base + .milliseconds(100))
        _ = queue.cancel(1)
        #expect(queue.nextDeadline == base + .milliseconds(100))
        #expect(queue.isHeadExpired(at: base + .milliseconds(100)))
    }

    @Test func onlyTheHeadDeadlineCounts() {
        var queue = RedisCommandQueue<String>()
        #expect(queue.nextDeadline == nil)
        #expect(!queue.isHeadExpired(at: base + .seconds(1000)))

        queue.append(id: 1, sink: "slow", deadline: base + .seconds(5))
        queue.append(id: 2, sink: "fast", deadline: base + .seconds(1))
        #expect(queue.nextDeadline == base + .seconds(5))
        #expect(!queue.isHeadExpired(at: base + .seconds(2)), "a later entry's deadline does not expire the head")
        #expect(!queue.isHeadExpired(at: base + .seconds(5) - .nanoseconds(1)))
        #expect(queue.isHeadExpired(at: base + .seconds(5)))

        _ = queue.receive()
        #expect(queue.nextDeadline == base + .seconds(1))
        #expect(queue.isHeadExpired(at: base + .seconds(2)))
    }

    @Test func waitLimitsExpireOutOfOrderAndKeepTheirPlaces() {
        var queue = RedisCommandQueue<String>()
        #expect(queue.nextWaitLimit == nil)
        queue.append(
            id: 1, sink: "long", deadline: base + .seconds(5), waitLimit: (base + .milliseconds(300), .milliseconds(300)))
        queue.append(id: 2, sink: "none", deadline: base + .seconds(5))
        queue.append(
            id: 3, sink: "short", deadline: base + .seconds(5), waitLimit: (base + .milliseconds(100), .milliseconds(100)))
        queue.append(id: 4, sink: "gone", deadline: base + .seconds(5), waitLimit: (base + .milliseconds(50), .milliseconds(50)))
        _ = queue.cancel(4)
        #expect(queue.nextWaitLimit == base + .milliseconds(100), "a later entry's limit counts; a cancelled one's does not")

        #expect(queue.expireWaits(at: base + .milliseconds(99)).isEmpty)
        let first = queue.expireWaits(at: base + .milliseconds(100))
        #expect(first.map(\.sink) == ["short"])
        #expect(first.map(\.limit) == [.milliseconds(100)])
        #expect(queue.count == 4, "an expired wait keeps its place: its reply is still consumed")
        #expect(queue.nextWaitLimit == base + .milliseconds(300))

        #expect(queue.expireWaits(at: base + .seconds(1)).map(\.sink) == ["long"])
        #expect(queue.nextWaitLimit == nil)
        #expect(queue.expireWaits(at: base + .seconds(2)).isEmpty, "each caller is failed once")
        #expect(queue.receive()?.sink == nil)
        #expect(queue.receive()?.sink == "none")
        #expect(queue.receive()?.sink == nil)
    }

    @Test func anAnsweredCommandLeavesNoWaitLimit() {
        var queue = RedisCommandQueue<String>()
        queue.append(id: 1, sink: "a", deadline: base + .seconds(5), waitLimit: (base + .milliseconds(100), .milliseconds(100)))
        queue.append(id: 2, sink: "b", deadline: base + .seconds(5), waitLimit: (base + .milliseconds(200), .milliseconds(200)))
        _ = queue.receive()
        #expect(queue.nextWaitLimit == base + .milliseconds(200))
        #expect(queue.expireWaits(at: base + .milliseconds(150)).isEmpty)
    }

    @Test func removeAllReturnsEntriesInOrder() {
        var queue = RedisCommandQueue<Int>()
        for id in 1...5 { queue.append(id: UInt64(id), sink: id * 10, deadline: base) }
        _ = queue.cancel(3)
        let all = queue.removeAll()
        #expect(all.map(\.id) == [1, 2, 3, 4, 5])
        #expect(all.map(\.sink) == [10, 20, nil, 40, 50])
        #expect(queue.isEmpty)
        #expect(queue.nextDeadline == nil)
    }
}

@Suite struct ReconnectPolicyTests {
    @Test func firstAttemptIsImmediate() {
        let policy = RedisReconnectPolicy()
        #expect(policy.delay(afterFailures: 0) == .zero)
        #expect(policy.delay(afterFailures: -3) == .zero)
    }

    @Test func withoutJitterTheDelayDoublesUpToTheCap() {
        let policy = RedisReconnectPolicy(initialDelay: .milliseconds(25), maximumDelay: .seconds(2), jitter: 0)
        let delays = (1...10).map { policy.delay(afterFailures: $0) }
        #expect(
            delays == [
                .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(400),
                .milliseconds(800), .milliseconds(1600), .seconds(2), .seconds(2), .seconds(2),
            ]
        )
        #expect(policy.delay(afterFailures: 1000) == .seconds(2))
        #expect(policy.delay(afterFailures: Int.max) == .seconds(2))
    }

    @Test func jitterStaysWithinBounds() {
        let policy = RedisReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(1), jitter: 0.5)
        var generator = SplitMix64(seed: 42)
        for failures in 1...12 {
            let base = min(0.1 * Double(1 << min(failures - 1, 20)), 1.0)
            var seen: Set<Duration> = []
            for _ in 0..<200 {
                let delay = policy.delay(afterFailures: failures, using: &generator)
                seen.insert(delay)
                #expect(delay >= .nanoseconds(Int64(base * 0.5 * 1e9)) - .nanoseconds(1), "failures \(failures)")
                #expect(delay <= .nanoseconds(Int64(base * 1e9)) + .nanoseconds(1), "failures \(failures)")
            }
            #expect(seen.count > 100, "jitter actually varies the delay")
        }
    }

    @Test func jitterIsClamped() {
        #expect(RedisReconnectPolicy(jitter: 7).jitter == 1)
        #expect(RedisReconnectPolicy(jitter: -1).jitter == 0)
        let full = RedisReconnectPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(1), jitter: 1)
        var generator = SplitMix64(seed: 7)
        for _ in 0..<100 {
            let delay = full.delay(afterFailures: 3, using: &generator)
            #expect(delay >= .zero && delay <= .seconds(1))
        }
    }
}

@Suite struct RedisServerRunIDTests {
    @Test func findsTheRunIDLine() {
        let text = "# Server\r\nredis_version:7.0.15\r\nrun_id:4f1a0c3e9b\r\ntcp_port:6379\r\n"
        #expect(RedisServerRunID.parse(text) == "4f1a0c3e9b")
        #expect(RedisServerRunID.parse("# Server\r\nredis_version:7.0.15\r\n") == nil)
        #expect(RedisServerRunID.parse("run_id:\r\n") == nil)
    }
}
