import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Testing

/// The backends with a wait queue and hand-off (every kind but Redlock, which has no fair queue).
let queueingBackendKinds = BackendKind.allCases.filter { $0 != .redlock }

extension LockEnvironment {
    /// A client of another process: its own connections (Redis), or its own `LockClient` over
    /// the shared store (memory, which lives in one process).
    func otherProcessClient() throws -> LockClient {
        switch kind {
        case .memory: return try makeClient()
        case .redis, .redlock: return try LockClient(configuration: independentConfiguration())
        }
    }

    /// How many waiters are queued on `resource`: its queue's `ZCARD` (Redis); memory, whose
    /// queue cannot be read from outside: how many waiters the store has answered `queued` so far.
    func queuedWaiters(_ resource: String) async throws -> Int {
        guard let raw else { return backend.waitersQueued(on: resource) }
        let reply = try await raw.execute(RESPCommand("ZCARD", keyspace.queueKey(resource)))
        guard case .number(let count) = reply.value else { throw HarnessFailure("ZCARD answered \(reply)") }
        return Int(count)
    }

    /// Waits until `count` waiters are queued on `resource` (fails the test after 10 s).
    func waitUntilQueued(_ resource: String, _ count: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let queued = try await eventually(within: .seconds(10)) { try await queuedWaiters(resource) >= count }
        let now = try await queuedWaiters(resource)
        try #require(queued, "\(now) of \(count) waiters queued", sourceLocation: sourceLocation)
    }

    /// Runs `body` with a client of another process whose requests can be slowed down by the
    /// latency passed to `slowDown`: through a fault proxy (Redis: commands reach the server
    /// late, while its messages arrive on time), or a wrapper over the shared store (memory).
    func withSlowClient(_ body: (_ client: LockClient, _ slowDown: @Sendable (Duration) -> Void) async throws -> Void)
        async throws
    {
        if let server {
            try await FaultProxy.withProxy(upstream: server.port) { proxy in
                let slow = try LockClient(configuration: LockyConfiguration(url: proxy.url))
                do {
                    try await body(slow) { proxy.set(.latency($0, direction: .clientToServer)) }
                } catch {
                    await slow.close()
                    throw error
                }
                await slow.close()
            }
        } else {
            // Over the environment's recording backend, so its queue counts see this client's waiters.
            let wrapper = RecordingBackend(backend)
            let slow = try LockClient(backend: wrapper, clock: clock)
            try await body(slow) { wrapper.setLatency($0) }
        }
    }
}
