import Locky
import LockyTestSupport
import Testing

/// `holder(of:)` on Redlock when the nodes that answer disagree and one is down.
@Suite("Redlock holders without a majority answer")
struct RedlockHoldersTests {
    /// The error used to say "2 of 3 nodes agreed" and call every answering node "granted"; it
    /// now shows what each node answered.
    @Test func theErrorShowsEachNodesAnswer() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            _ = try servers[0].cli("SET", "locky:{R}", "editor-1")
            servers[2].kill()
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers))
            let error = await expectLockError(.quorumNotReached) { _ = try await client.holder(of: "R") }
            #expect(error?.message.contains("no answer is shared by 2 of 3 nodes") == true, "\(String(describing: error))")
            let answers = error?.nodes.map(\.description) ?? []
            #expect(answers.count == 3)
            #expect(answers.first?.contains("held by editor-1") == true, "\(answers)")
            #expect(answers.dropFirst().first?.contains("not held") == true, "\(answers)")
            #expect(!answers.contains { $0.contains("granted") }, "\(answers)")
            await client.close()
        }
    }
}
