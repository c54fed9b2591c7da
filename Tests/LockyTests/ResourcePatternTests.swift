import Locky
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
    ]

    @Test(arguments: cases)
    func matchesAsRedisAndByScalars(_ example: Case) {
        #expect(ResourcePattern(example.pattern).matches(example.name) == example.matches)
    }
}
