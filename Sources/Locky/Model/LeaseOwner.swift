/// Makes lease owner strings: 128 random bits from the system CSPRNG as 32 hex digits,
/// optionally after a readable label (`label/token`), so "who holds it" says something useful
/// while the secret part stays unguessable.
enum LeaseOwner {
    /// Separates the readable label from the token.
    static let separator: Character = "/"

    /// A new owner string.
    static func make(label: String?) -> String {
        let token = randomToken()
        guard let label, !label.isEmpty else { return token }
        return label + String(separator) + token
    }

    /// The label part of a lease owner, or the whole string (a locker id).
    static func displayName(of owner: String) -> String {
        // Bytes, not Characters: `/` is ASCII, and walking grapheme clusters is slow.
        let bytes = owner.utf8
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else {
            return isToken(owner[...]) ? "lease" : owner
        }
        let token = owner[bytes.index(after: slash)...]
        return isToken(token) ? String(owner[..<slash]) : owner
    }

    private static func isToken(_ text: Substring) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// 128 bits from the system CSPRNG (``SecureRandomPool``) as 32 lowercase hex digits.
    private static func randomToken() -> String {
        let words = SecureRandomPool.pair()
        return String(unsafeUninitializedCapacity: 32) { buffer in
            let digits: StaticString = "0123456789abcdef"
            for nibble in 0..<16 {
                let shift = UInt64(60 - 4 * nibble)
                buffer[nibble] = digits.utf8Start[Int((words.0 >> shift) & 0xF)]
                buffer[16 + nibble] = digits.utf8Start[Int((words.1 >> shift) & 0xF)]
            }
            return 32
        }
    }
}
