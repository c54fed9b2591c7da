import Locky
import Testing

/// A prefix with glob characters: the listing that `heldLocks`, `locky status` and the expiry
/// watcher's discovery make (`SCAN MATCH` over the escaped prefix) finds every lock.
@Suite("Events review: glob characters in the prefix")
struct EventsReviewPrefixTests {
    /// A `\` or `[` of the prefix followed by a combining mark (one Character with it) was left
    /// unescaped, as the escape compared Characters: `SCAN MATCH` then read `\` as escaping the
    /// mark's first byte, or `[` as opening a set, and matched no key of the prefix. Before,
    /// `heldLocks()` answered [] with the locks held; the watcher found none of them either.
    @Test(arguments: ["app\\\u{301}:", "app[\u{301}:", "app[\u{301}]\\\u{301}*\u{301}?\u{301}:"])
    func everyLockOfThePrefixIsListed(prefix: String) async throws {
        try await withBackend(.redis, prefix: prefix) { env throws in
            _ = try await env.client.lock("a", locker: "x")
            _ = try await env.client.tryAcquire("b", ttl: .seconds(30))
            let held = try await env.client.heldLocks().map(\.resource)
            #expect(held == ["a", "b"])
        }
    }
}
