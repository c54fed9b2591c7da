import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Testing

/// Resource globs (`events(matching:)`, `locky status --match`) read as Redis reads them, and
/// compare names as Locky does: by Unicode scalars, never by canonical equivalence.
@Suite("Resource patterns")
struct ResourcePatternTests {
    /// A pattern, a name, and whether it matches (checked against `KEYS` on Redis 7.0 where
    /// Redis has a say: it matches bytes, these are ASCII).
    struct Case: Sendable, CustomTestStringConvertible {
        let pattern: String
        let name: String
        let matches: Bool

        var testDescription: String { "\(pattern) ~ \(name): \(matches)" }
    }

    static let cases: [Case] = [
        Case(pattern: "article:*", name: "article:12", matches: true),
        Case(pattern: "article:?", name: "article:", matches: false),
        Case(pattern: "a[bc]d", name: "acd", matches: true),
        Case(pattern: "a[^bc]d", name: "acd", matches: false),
        // An escaped `]` in a set: Redis's `[\]]` matches `]`.
        Case(pattern: "[\\]]", name: "]", matches: true),
        Case(pattern: "[\\]]", name: "\\]", matches: false),
        // A range given backwards: Redis's `[z-a]` matches `b`.
        Case(pattern: "[z-a]", name: "b", matches: true),
        Case(pattern: "[a-c]", name: "m", matches: false),
        // Malformed sets, read as Redis 7.0 reads them: an unclosed set runs to the pattern's
        // end, a `-` before the set's last character makes a range even with `]`, and a `[`
        // at the very end matches nothing.
        Case(pattern: "x[ab", name: "xa", matches: true),
        Case(pattern: "x[ab", name: "x[ab", matches: false),
        Case(pattern: "[a-]", name: "_", matches: true),
        Case(pattern: "[a-]", name: "-", matches: false),
        Case(pattern: "[a-]]", name: "`", matches: true),
        Case(pattern: "x[", name: "x[", matches: false),
        Case(pattern: "x[^", name: "xz", matches: true),
        Case(pattern: "x\\*", name: "x*", matches: true),
        Case(pattern: "x\\*", name: "xy", matches: false),
        Case(pattern: "{order-7}:*", name: "{order-7}:pdf", matches: true),
        // Two spellings of one word are two locks, as on Redis: a filter for one is not the other's.
        Case(pattern: "caf\u{E9}*", name: "cafe\u{301}-1", matches: false),
        Case(pattern: "caf\u{E9}*", name: "caf\u{E9}-1", matches: true),
        Case(pattern: "caf[\u{E9}]", name: "cafe\u{301}", matches: false),
        Case(pattern: "cafe\u{301}", name: "caf\u{E9}", matches: false),
        // Scalar by scalar, as Redis matches bytes: a name whose next scalar joins the last
        // matched one into a grapheme cluster (a combining mark, `\r\n`, a ZWJ sequence)
        // still starts with the pattern's text.
        Case(pattern: "doc*", name: "doc\u{301}x", matches: true),
        Case(pattern: "line\r*", name: "line\r\nx", matches: true),
        Case(pattern: "\u{1F468}*", name: "\u{1F468}\u{200D}\u{1F467}", matches: true),
        Case(pattern: "*x", name: "a\u{301}x", matches: true),
    ]

    @Test(arguments: cases)
    func matchesAsRedisAndByScalars(_ example: Case) {
        #expect(ResourcePattern(example.pattern).matches(example.name) == example.matches)
    }

    /// Names whose next scalar joins the pattern's last character into one grapheme cluster:
    /// Redis's glob (`KEYS` over the lock keys) finds them, and so does an event stream's
    /// filter. Before, the filter compared grapheme clusters (`c` with `c\u{301}`) and the
    /// stream dropped these events. The filter and the listing are the same on every backend;
    /// Redis's own glob is asked wherever there is a server.
    @Test(arguments: BackendKind.allCases)
    func filtersAgreeWithRedisOnJoiningScalars(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let names = ["doc\u{301}", "line\r\nx", "doc-plain"]
            let recording = try await LockEventTests.recording(client, matching: "doc*") { recording in
                for name in names { _ = try await client.lock(name, locker: "editor") }
                let complete = try await recording.wait { $0.count >= 2 }
                #expect(complete, "\(recording.descriptions)")
                // Anything else would come soon after.
                try await Task.sleep(for: .milliseconds(200))
            }
            // Redis (each Redlock node alike): the lock keys that start with `locky:{doc` (not their fence keys).
            for raw in env.inspectionClients {
                let keys = try await raw.execute(RESPCommand("KEYS", "locky:{doc*}")).decode(as: [String].self)
                #expect(
                    Set(keys.map { Array($0.utf8) }) == Set(["locky:{doc\u{301}}", "locky:{doc-plain}"].map { Array($0.utf8) }))
            }
            let seen = recording.descriptions
            #expect(seen.sorted() == ["locked doc-plain by editor", "locked doc\u{301} by editor"].sorted(), "\(seen)")
            let held = try await client.heldLocks(matching: "line\r*").map(\.resource)
            #expect(held == ["line\r\nx"])
        }
    }

    /// Every pattern of up to 3 characters, and 1,500 longer ones, over an alphabet of glob
    /// syntax (malformed sets and escapes included), against every name of up to 3 characters:
    /// the filter matches exactly the names Redis's `KEYS` finds. Before, unclosed sets (`x[ab`),
    /// `[a-]` and a trailing `[` were read otherwise, and a listing or event stream filtered by
    /// them disagreed with `SCAN MATCH`.
    @Test func agreesWithRedisOnEveryShortPattern() async throws {
        let alphabet = Array("ab-]^[\\*?").map(String.init)
        func words(upTo length: Int) -> [String] {
            var all: [String] = []
            var last = [""]
            for _ in 0..<length {
                last = last.flatMap { word in alphabet.map { word + $0 } }
                all += last
            }
            return all
        }
        let names = words(upTo: 3)
        var generator = SplitMix64(seed: 18)
        var patterns = words(upTo: 3)
        for _ in 0..<1_500 {
            let length = Int.random(in: 4...7, using: &generator)
            patterns.append((0..<length).map { _ in alphabet.randomElement(using: &generator) ?? "a" }.joined())
        }
        try await RedisServer.withServer { server throws in
            let redis = try RedisClient(configuration: RedisConfiguration(url: server.url))
            for start in stride(from: 0, to: names.count, by: 200) {
                let batch = names[start..<min(start + 200, names.count)]
                var mset = RESPCommand("MSET")
                for name in batch { mset.append(contentsOf: [name, "1"]) }
                _ = try await redis.execute(mset)
            }
            var disagreements: [String] = []
            for pattern in patterns {
                let found = Set(try await redis.execute(RESPCommand("KEYS", pattern)).decode(as: [String].self))
                let ours = Set(names.filter(ResourcePattern(pattern).matches))
                if found != ours {
                    disagreements.append(
                        "\(pattern): Redis \(found.subtracting(ours).sorted()), Locky \(ours.subtracting(found).sorted())")
                }
            }
            await redis.close()
            #expect(disagreements.isEmpty, "\(disagreements.count) of \(patterns.count): \(disagreements.prefix(10))")
        }
    }
}
