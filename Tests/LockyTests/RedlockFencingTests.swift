import Locky
import LockyRedis
import LockyTestSupport
import Testing

/// Fencing tokens across Redlock nodes when nodes lag and restart empty.
@Suite("Redlock fencing tokens")
struct RedlockFencingTests {
    static func counters(_ servers: [RedisServer], _ resource: String) throws -> [Int] {
        let keyspace = try LockKeyspace()
        return try servers.map { Int(try $0.cli("GET", keyspace.fenceKey(resource))) ?? 0 }
    }

    /// Two nodes missed three cycles; the next lock got token 4 from a quorum of three and left
    /// the two at 1 (a quorum had issued 4, so nothing was raised). One restart of a node that
    /// knew 4 while two others were stopped, and the next lock got token 2.
    @Test("tokens keep increasing when lagging nodes outlive a restart of a node that knew the last token")
    func laggingNodesAreRaisedEvenWhenAQuorumIssuedTheToken() async throws {
        try await RedlockFaultTests.withNodes(5) { servers in
            let configuration = try RedlockFaultTests.configuration(servers, retry: .never)
            servers[3].kill()
            servers[4].kill()
            let early = try LockClient(configuration: configuration)
            for expected: Int64 in 1...3 {
                #expect(try await early.lock("r", locker: "a") == .acquired(fencingToken: expected))
                #expect(try await early.unlock("r", locker: "a") == .unlocked)
            }
            await early.close()
            try await servers[3].restart()
            try await servers[4].restart()

            let client = try LockClient(configuration: configuration)
            #expect(try await client.lock("r", locker: "a") == .acquired(fencingToken: 4))
            #expect(try Self.counters(servers, "r") == [4, 4, 4, 4, 4])
            #expect(try await client.unlock("r", locker: "a") == .unlocked)
            await client.close()

            // Node 0 restarts empty while nodes 1 and 2, which knew 4, are stopped.
            try await servers[0].restart()
            servers[1].pause()
            servers[2].pause()
            let late = try LockClient(configuration: configuration)
            let outcome = try await late.lock("r", locker: "b")
            servers[1].resume()
            servers[2].resume()
            guard case .acquired(let token) = outcome else {
                Issue.record("not acquired: \(outcome)")
                return
            }
            #expect(token > 4, "token \(token) after 4")
            await late.close()
        }
    }
}
