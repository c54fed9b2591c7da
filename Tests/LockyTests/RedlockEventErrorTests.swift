import Locky
import LockyTestSupport
import Testing

/// Error events of one Redlock node say which node, and what kind of failure it was.
@Suite("Redlock node errors in the event stream")
struct RedlockEventErrorTests {
    /// With expirations, each node's subscription first switches keyspace notifications on. A
    /// killed node used to give `serverError: cannot enable keyspace notifications` naming no
    /// node; it is a node that cannot be reached, and the error names it.
    @Test func aKilledNodeIsNamedAndUnavailable() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            servers[2].kill()
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers))
            let errors = Shared<[LockError]>([])
            try await client.events { stream in
                for await event in stream {
                    if case .error(let error) = event { errors.update { $0.append(error) } }
                    if errors.value.count >= 1 { break }
                }
            }
            let error = try #require(errors.value.first)
            #expect(error.code == .backendUnavailable, "\(error)")
            #expect(error.nodes.map(\.node) == ["127.0.0.1:\(servers[2].port)"], "\(error)")
            #expect(error.message.contains("127.0.0.1:\(servers[2].port)"), "\(error)")
            await client.close()
        }
    }
}
