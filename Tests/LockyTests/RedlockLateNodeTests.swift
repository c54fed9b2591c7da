import Locky
import LockyTestSupport
import Testing

/// A Redlock node that is down when an event stream starts joins it once it is back.
@Suite("Redlock events from a node that comes back")
struct RedlockLateNodeTests {
    /// The stream used to leave a node out for as long as it ran: with that node back and
    /// another one down, changes held by a quorum (including the late node) were never passed on.
    @Test func aNodeDownAtTheStartJoinsWhenItIsBack() async throws {
        try await RedlockFaultTests.withNodes(3) { servers in
            servers[2].kill()
            let client = try LockClient(configuration: try RedlockFaultTests.configuration(servers))
            let seen = Shared<[String]>([])
            try await client.events { stream in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await event in stream {
                            switch event {
                            case .locked(let resource, _, _): seen.update { $0.append("locked \(resource)") }
                            case .gap: seen.update { $0.append("gap") }
                            default: break
                            }
                        }
                    }
                    try await servers[2].restart()
                    // It joins within the first retry (1 s) and says events may have been missed.
                    #expect(try await eventually(within: .seconds(5)) { seen.value.contains("gap") }, "\(seen.value)")
                    // Now node 1 goes: a lock on nodes 0 and 2 is reported only if node 2 is heard.
                    servers[1].kill()
                    let lease = try await client.tryAcquire("late", ttl: .seconds(30))
                    #expect(
                        try await eventually(within: .seconds(5)) { seen.value.contains("locked late") }, "\(seen.value)")
                    _ = try await client.release(lease)
                    group.cancelAll()
                }
            }
            await client.close()
        }
    }
}
