import Locky
import LockyRESP
import LockyRedis
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
    /// stream dropped these events.
    @Test func filtersAgreeWithRedisOnJoiningScalars() async throws {
        try await withBackend(.redis, clock: .system) { env throws in
            let client = env.client
            let raw = try #require(env.raw)
            let names = ["doc\u{301}", "line\r\nx", "doc-plain"]
            let recording = try await LockEventTests.recording(client, matching: "doc*") { recording in
                for name in names { _ = try await client.lock(name, locker: "editor") }
                let complete = try await recording.wait { $0.count >= 2 }
                #expect(complete, "\(recording.descriptions)")
                // Anything else would come soon after.
                try await Task.sleep(for: .milliseconds(200))
            }
            // Redis: the lock keys that start with `locky:{doc` (not their fence keys).
            let keys = try await raw.execute(RESPCommand("KEYS", "locky:{doc*}")).decode(as: [String].self)
            #expect(Set(keys.map { Array($0.utf8) }) == Set(["locky:{doc\u{301}}", "locky:{doc-plain}"].map { Array($0.utf8) }))
            let seen = recording.descriptions
            #expect(seen.sorted() == ["locked doc-plain by editor", "locked doc\u{301} by editor"].sorted(), "\(seen)")
            let held = try await client.heldLocks(matching: "line\r*").map(\.resource)
            #expect(held == ["line\r\nx"])
        }
    }
}
