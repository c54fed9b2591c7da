/// A glob over resource names, as in Redis `PSUBSCRIBE`/`SCAN MATCH`: `*` any run, `?` one
/// character, `[abc]` a set (`[a-z]` a range, `[^a]` all but), `\` escapes (in sets too).
/// Characters are compared by their Unicode scalars, as Locky compares names: `caf\u{E9}*`
/// does not match `cafe\u{301}-1`, another lock.
public struct ResourcePattern: Sendable, Hashable {
    /// The pattern text.
    public let pattern: String
    private let characters: [Character]

    /// Creates a pattern.
    public init(_ pattern: String) {
        self.pattern = pattern
        self.characters = Array(pattern)
    }

    /// Whether `resource` matches.
    public func matches(_ resource: String) -> Bool {
        Self.match(characters[...], Array(resource)[...])
    }

    private static func match(_ pattern: ArraySlice<Character>, _ text: ArraySlice<Character>) -> Bool {
        var p = pattern.startIndex
        var t = text.startIndex
        var starP: Int?
        var starT = text.startIndex
        while t < text.endIndex {
            if p < pattern.endIndex {
                let c = pattern[p]
                if c == "*" {
                    starP = p
                    starT = t
                    p += 1
                    continue
                }
                if let (matched, next) = single(pattern, p, text[t]), matched {
                    p = next
                    t += 1
                    continue
                }
            }
            guard let star = starP else { return false }
            p = star + 1
            starT += 1
            t = starT
        }
        while p < pattern.endIndex, pattern[p] == "*" { p += 1 }
        return p == pattern.endIndex
    }

    /// Matches one pattern element at `index` against `character`; returns whether it matched
    /// and the index after the element. Characters are compared by their Unicode scalars, as
    /// Locky compares names (byte for byte), never by canonical equivalence: `caf\u{E9}` does
    /// not match the resource `cafe\u{301}`, another lock.
    private static func single(_ pattern: ArraySlice<Character>, _ index: Int, _ character: Character) -> (Bool, Int)? {
        let c = pattern[index]
        switch c {
        case "?":
            return (true, index + 1)
        case "\\" where index + 1 < pattern.endIndex:
            return (same(pattern[index + 1], character), index + 2)
        case "[":
            var i = index + 1
            var negate = false
            if i < pattern.endIndex, pattern[i] == "^" {
                negate = true
                i += 1
            }
            var found = false
            while i < pattern.endIndex, pattern[i] != "]" {
                if pattern[i] == "\\", i + 1 < pattern.endIndex {
                    // An escaped character in a set, as Redis reads `[\]]`.
                    if same(pattern[i + 1], character) { found = true }
                    i += 2
                } else if i + 2 < pattern.endIndex, pattern[i + 1] == "-", pattern[i + 2] != "]" {
                    // Redis takes a range given backwards (`[z-a]`) as `[a-z]`.
                    let (low, high) = ordered(pattern[i], pattern[i + 2])
                    if !precedes(character, low) && !precedes(high, character) { found = true }
                    i += 3
                } else {
                    if same(pattern[i], character) { found = true }
                    i += 1
                }
            }
            guard i < pattern.endIndex else { return (same(c, character), index + 1) }
            return (found != negate, i + 1)
        default:
            return (same(c, character), index + 1)
        }
    }

    /// Whether two characters are the same Unicode scalars.
    private static func same(_ lhs: Character, _ rhs: Character) -> Bool {
        lhs.unicodeScalars.elementsEqual(rhs.unicodeScalars)
    }

    /// Whether `lhs` comes before `rhs` by Unicode scalar values.
    private static func precedes(_ lhs: Character, _ rhs: Character) -> Bool {
        lhs.unicodeScalars.lexicographicallyPrecedes(rhs.unicodeScalars) { $0.value < $1.value }
    }

    /// The bounds of a range, lower first.
    private static func ordered(_ first: Character, _ second: Character) -> (Character, Character) {
        precedes(second, first) ? (second, first) : (first, second)
    }
}
