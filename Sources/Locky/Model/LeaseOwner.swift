/// Makes lease owner strings: 128 random bits from the system CSPRNG as 32 hex digits,
/// optionally after a readable label (`label/token`), so "who holds it" says something useful
/// while the secret part stays unguessable.
enum LeaseOwner {
    /// Separates the readable label from the token.
    static let separator: Character = "/"

    /// A new owner string.
    static func make(label: String?) -> String {
        // SystemRandomNumberGenerator reads getrandom(2)/arc4random: a CSPRNG on every platform.
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        let token = hex(high) + hex(low)
        guard let label, !label.isEmpty else { return token }
        return label + String(separator) + token
    }

    /// The label part of a lease owner, or the whole string (a locker id).
    static func displayName(of owner: String) -> String {
        guard let slash = owner.lastIndex(of: separator) else {
            return isToken(owner[...]) ? "lease" : owner
        }
        let token = owner[owner.index(after: slash)...]
        return isToken(token) ? String(owner[..<slash]) : owner
    }

    private static func isToken(_ text: Substring) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
