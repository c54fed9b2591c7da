import Locky
import LockyTestSupport
import Testing

/// Event subscriptions on Redlock nodes when some nodes are stopped.
@Suite("Redlock subscriptions", .timeLimit(.minutes(1)))
struct RedlockSubscriptionTests {
    /// The nodes were subscribed one after another, each stopped node costing the command
    /// timeout (5 s for the `CONFIG SET` of keyspace notifications): with 2 of 5 stopped the
    /// stream started after about 10 s. Now all at once, each within the node timeout.
    @Test("2 of 5 nodes stopped: the event stream starts within the node timeout and passes the quorum's events")
    func stoppedNodesDelayNoOtherSubscription() async throws {
        try await RedlockFaultTests.withNodes(5) { servers in
            let configuration = try RedlockFaultTests.configuration(servers, retry: .never)
            let client = try LockClient(configuration: configuration)
            let other = try LockClient(configuration: configuration)
            servers[0].pause()
            servers[1].pause()
            let started = ContinuousClock.now
            let waited = try await client.events { stream in
                let waited = ContinuousClock.now - started
                let lease = try await other.tryAcquire("e", ttl: .seconds(5))
                var seen = false
                for await event in stream {
                    if case .locked("e", _, _) = event {
                        seen = true
                        break
                    }
                }
                #expect(seen)
                _ = try await other.release(lease)
                return waited
            }
            servers[0].resume()
            servers[1].resume()
            // Each node: the keyspace-notification setup, then the subscription, 100 ms each.
            #expect(waited < .milliseconds(800), "the stream started after \(waited)")
            await other.close()
            await client.close()
        }
    }
}
