import Locky
import NIOCore
import Testing

@testable import Locky

/// `LockBackend` is public: a backend of your own may answer out of shape. The client turns
/// such a reply into a typed error instead of an index out of range that ends the process.
@Suite struct MalformedBackendTests {
    /// A backend whose answers do not fit their requests: a busy index past the resources,
    /// one fencing token too few (when `shortTokens`), a lost index past the resources, and
    /// empty lists for every per-resource answer.
    struct MalformedBackend: LockBackend {
        let shortTokens: Bool
        let events = InMemoryLockBackend()

        var name: String { "malformed" }

        func acquire(_ resources: [String], owner: String, ttl: Duration?) async throws(LockError) -> AcquireReply {
            if shortTokens { return .acquired(fencingTokens: Array(repeating: 1, count: resources.count - 1)) }
            if resources.count == 1 { return .acquired(fencingTokens: [1]) }
            return .busy(index: resources.count, holder: LockHolder(owner: "other", remaining: nil))
        }

        func lock(_ resources: [String], locker: String, ttl: Duration?, force: Bool) async throws(LockError) -> [LockOutcome] {
            []
        }

        func extend(_ resources: [String], owner: String, ttl: Duration, mode: ExtendMode) async throws(LockError)
            -> ExtendReply
        { .lost(index: 9, holder: nil) }

        func renew(_ items: [RenewalItem]) async throws(LockError) -> [RenewalResult] { [] }

        func unlock(_ resources: [String], owner: String?) async throws(LockError) -> [UnlockOutcome] { [] }

        func refresh(_ resources: [String], locker: String?, ttl: Duration?) async throws(LockError) -> [RefreshOutcome] { [] }

        func holders(_ resources: [String]) async throws(LockError) -> [LockHolder?] { [] }

        func fencedWrite(key: String, value: ByteBuffer, fencingToken: Int64) async throws(LockError) -> FencedWriteOutcome {
            .accepted
        }

        func fencedRead(key: String) async throws(LockError) -> FencedValue? { nil }

        func withEvents<T: Sendable>(expirations: Bool, _ body: (LockEventStream) async throws -> T) async throws -> T {
            try await events.withEvents(expirations: expirations, body)
        }

        func close() async {}
    }

    @Test func everyMalformedReplyIsAServerError() async throws {
        let client = try LockClient(backend: MalformedBackend(shortTokens: false))
        let calls: [(String, @Sendable () async throws -> Void)] = [
            ("busy past the end", { _ = try await client.tryAcquire(["a", "b"], ttl: .seconds(5)) }),
            ("waiting, busy past the end", { _ = try await client.acquire(["a", "b"], ttl: .seconds(5), timeout: .seconds(1)) }),
            ("lock", { _ = try await client.lock("a", locker: "l") }),
            ("unlock", { _ = try await client.unlock("a") }),
            ("refresh", { _ = try await client.refresh("a") }),
            ("holder", { _ = try await client.holder(of: "a") }),
            ("locker", { _ = try await client.locker(of: ["a", "b"]) }),
            (
                "extend, lost past the end",
                {
                    let lease = try await client.tryAcquire("a", ttl: .seconds(5))
                    try await client.extend(lease, toExpireIn: .seconds(5))
                }
            ),
            (
                "release",
                {
                    let lease = try await client.tryAcquire("a", ttl: .seconds(5))
                    _ = try await client.release(lease)
                }
            ),
        ]
        for (what, call) in calls {
            let error = await expectLockError(.serverError) { try await call() }
            #expect(error?.message.contains("malformed reply") == true, "\(what): \(String(describing: error))")
        }
        let short = try LockClient(backend: MalformedBackend(shortTokens: true))
        let error = await expectLockError(.serverError) { _ = try await short.tryAcquire(["a", "b"], ttl: .seconds(5)) }
        #expect(error?.message.contains("1 fencing tokens for 2 resources") == true)
        let renewal = await expectLockError(.serverError) {
            _ = try await MalformedBackend(shortTokens: false).checkedRenew([
                RenewalItem(resource: "a", owner: "o", ttl: .seconds(5))
            ])
        }
        #expect(renewal?.message.contains("0 answers for 1 requested") == true)
        await client.close()
        await short.close()
    }
}
