/// A glob over resource names, as in Redis `PSUBSCRIBE`/`SCAN MATCH`: `*` any run, `?` one
/// Unicode scalar, `[abc]` a set (`[a-z]` a range, `[^a]` all but), `\` escapes (in sets too).
/// Malformed sets read as Redis 7.0 reads them: one never closed runs to the end of the pattern
/// (`x[ab` matches `xa`), and `x-y` is a range even when `y` is `]` (`[a-]]`).
/// Names are matched scalar by scalar, as Locky compares names: `caf\u{E9}*` does not match
/// `cafe\u{301}-1`, another lock, and `doc*` matches `doc\u{301}`, whose first scalars are
/// `doc` (as Redis, which matches bytes, finds it).
public struct ResourcePattern: Sendable, Hashable {
    /// The pattern text.
    public let pattern: String
    // Scalars, not Characters: a Character is a grapheme cluster, so `doc*` against
    // `doc\u{301}` compared `c` with `c\u{301}` and missed a name Redis's glob matches.
    private let scalars: [Unicode.Scalar]

    /// Creates a pattern.
    public init(_ pattern: String) {
        self.pattern = pattern
        self.scalars = Array(pattern.unicodeScalars)
    }

    /// Whether `resource` matches.
    public func matches(_ resource: String) -> Bool {
        Self.match(scalars[...], Array(resource.unicodeScalars)[...])
    }

    private static func match(_ pattern: ArraySlice<Unicode.Scalar>, _ text: ArraySlice<Unicode.Scalar>) -> Bool {
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
    /// and the index after the element. Scalars are compared by value, as Locky compares names
    /// (byte for byte), never by canonical equivalence: `caf\u{E9}` does not match the resource
    /// `cafe\u{301}`, another lock.
    private static func single(
        _ pattern: ArraySlice<Unicode.Scalar>, _ index: Int, _ character: Unicode.Scalar
    ) -> (Bool, Int)? {
        let c = pattern[index]
        switch c {
        case "?":
            return (true, index + 1)
        case "\\" where index + 1 < pattern.endIndex:
            return (pattern[index + 1] == character, index + 2)
        case "[":
            // Read as Redis 7.0's `stringmatchlen` reads a set, malformed ones included, so a
            // filter never disagrees with `SCAN MATCH`/`PSUBSCRIBE`: a `\` escapes the next
            // character, `x-y` is a range whenever two characters follow the first (`[a-]]` is
            // the range `]`…`a`), and a set that is never closed runs to the end of the pattern
            // (`x[ab` matches `xa`; a `[` at the very end matches nothing).
            var i = index + 1
            var negate = false
            if i < pattern.endIndex, pattern[i] == "^" {
                negate = true
                i += 1
            }
            var found = false
            while true {
                if i + 1 < pattern.endIndex, pattern[i] == "\\" {
                    i += 1
                    if pattern[i] == character { found = true }
                } else if i >= pattern.endIndex {
                    // Unclosed: the set takes the rest of the pattern.
                    i -= 1
                    break
                } else if pattern[i] == "]" {
                    break
                } else if i + 2 < pattern.endIndex, pattern[i + 1] == "-" {
                    // Redis takes a range given backwards (`[z-a]`) as `[a-z]`.
                    let (low, high) = (min(pattern[i], pattern[i + 2]), max(pattern[i], pattern[i + 2]))
                    if low <= character && character <= high { found = true }
                    i += 2
                } else if pattern[i] == character {
                    found = true
                }
                i += 1
            }
            return (found != negate, i + 1)
        default:
            return (c == character, index + 1)
        }
    }
}
