/// A glob over resource names, as in Redis `PSUBSCRIBE`/`SCAN MATCH`: `*` any run, `?` one
/// character, `[abc]` a set, `\` escapes.
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
    /// and the index after the element.
    private static func single(_ pattern: ArraySlice<Character>, _ index: Int, _ character: Character) -> (Bool, Int)? {
        let c = pattern[index]
        switch c {
        case "?":
            return (true, index + 1)
        case "\\" where index + 1 < pattern.endIndex:
            return (pattern[index + 1] == character, index + 2)
        case "[":
            var i = index + 1
            var negate = false
            if i < pattern.endIndex, pattern[i] == "^" {
                negate = true
                i += 1
            }
            var found = false
            while i < pattern.endIndex, pattern[i] != "]" {
                if i + 2 < pattern.endIndex, pattern[i + 1] == "-", pattern[i + 2] != "]" {
                    if pattern[i] <= character && character <= pattern[i + 2] { found = true }
                    i += 3
                } else {
                    if pattern[i] == character { found = true }
                    i += 1
                }
            }
            guard i < pattern.endIndex else { return (c == character, index + 1) }
            return (found != negate, i + 1)
        default:
            return (c == character, index + 1)
        }
    }
}
