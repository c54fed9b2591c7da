import Locky
import LockyTestSupport
import Testing

/// What a Redlock `quorumNotReached` says each node answered, for calls that are no grant: the
/// nodes of a read answered (they granted nothing), a refresh's nodes said what they hold.
@Suite("Redlock node answers in quorum errors")
struct RedlockNodeAnswerTests {
    /// Two of three nodes down: listing the held locks and a fenced read fail, and the node that
    /// answered used to be called "granted"; it now "answered".
    @Test func aReadsAnsweringNodeAnswered() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            servers[1].kill()
            servers[2].kill()
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers))
            let listing = await expectLockError(.quorumNotReached) { _ = try await client.heldLocks() }
            let read = await expectLockError(.quorumNotReached) { _ = try await client.fencedRead("data") }
            for error in [listing, read] {
                let answers = error?.nodes.map(\.description) ?? []
                #expect(answers.count == 3, "\(answers)")
                #expect(answers.first == "127.0.0.1:\(servers[0].port): answered", "\(answers)")
                #expect(!answers.contains { $0.contains("granted") }, "\(answers)")
                #expect(error?.nodes.first?.isGranted == true, "it counts towards the quorum")
            }
            await client.close()
        }
    }

    /// Held by the locker on node 0, free on node 1, node 2 down: the refresh error used to
    /// say "2 of 3 nodes agreed, 2 needed" and call node 1 "granted"; it now says what each
    /// node answered.
    @Test func aRefreshErrorShowsEachNodesAnswer() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            _ = try servers[0].cli("SET", "locky:{r}", "me", "PX", "30000")
            servers[2].kill()
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers))
            let error = await expectLockError(.quorumNotReached) { _ = try await client.refresh("r", locker: "me") }
            #expect(error?.message.contains("1 of 3 nodes agreed, 2 needed") == true, "\(String(describing: error))")
            let answers = error?.nodes.map(\.description) ?? []
            #expect(answers.count == 3, "\(answers)")
            #expect(answers.first?.hasSuffix(": granted") == true, "\(answers)")
            #expect(answers.dropFirst().first?.hasSuffix(": not held") == true, "\(answers)")
            await client.close()
        }
    }
}
