import Testing

@testable import Locky

/// A key prefix with a brace would change every key's hash tag. The check compared Characters:
/// `{` or `}` followed by a combining mark (one Character) passed, and the prefix's brace then
/// made the hash tag, not the resource.
@Suite struct PrefixBraceTests {
    @Test(arguments: ["x{\u{301}", "x}\u{301}:", "{\u{20DD}", "a:}\u{0308}{b}"])
    func aBraceBeforeACombiningMarkIsRefused(prefix: String) throws {
        #expect(prefix.utf8.contains(UInt8(ascii: "{")) || prefix.utf8.contains(UInt8(ascii: "}")))
        #expect(throws: LockError.self) { try LockKeyspace(prefix: prefix) }
        do {
            _ = try LockKeyspace(prefix: prefix)
        } catch {
            #expect(error.code == .invalidArgument, "\(error)")
        }
    }

    @Test func aPrefixWithACombiningMarkElsewhereIsFine() throws {
        #expect(try LockKeyspace(prefix: "e\u{301}:").prefix == "e\u{301}:")
    }
}
