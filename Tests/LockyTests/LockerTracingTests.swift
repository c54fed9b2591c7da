import InMemoryTracing
import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Testing
import Tracing

/// Spans of the locker API: one `client` span per call that passes the argument checks, ended
/// on every path, with the `LockError` on failure, and never a locker id or token in it.
@Suite("Locker API tracing")
struct LockerTracingTests {
    @Test(arguments: BackendKind.allCases)
    func eachLockerCallHasOneSpan(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let tracer = InMemoryTracer()
            let client = try env.makeClient(tracer: tracer)
            _ = try await client.lock(["a", "b"], locker: "user-20")
            _ = try await client.lock("a", locker: "admin", force: true)
            _ = try await client.refresh(["a", "b"], locker: "admin")
            _ = try await client.locker(of: "a")
            _ = try await client.holders(of: ["a", "b", "c"])
            _ = try await client.heldLocks(matching: "a*")
            _ = try await client.unlock(["a", "b", "c"])
            let spans = tracer.popFinishedSpans()
            #expect(
                spans.map(\.operationName) == [
                    "locky.lock", "locky.lock", "locky.refresh", "locky.locker", "locky.locker", "locky.locker", "locky.unlock",
                ])
            #expect(spans.allSatisfy { $0.kind == .client && $0.errors.isEmpty })
            #expect(spans.map { $0.attributes["locky.resources"]?.toSpanAttribute() } == [2, 1, 2, 1, 3, 1, 3])
            #expect(spans[0].attributes["locky.force"] == nil)
            #expect(spans[1].attributes["locky.force"]?.toSpanAttribute() == true)
            #expect(tracer.activeSpans.isEmpty)
            // Nothing names a locker (a user name, perhaps) or a resource.
            for span in spans {
                span.attributes.forEach { name, attribute in
                    let text = "\(name)=\(attribute)"
                    #expect(!text.contains("user-20") && !text.contains("admin"), "\(span.operationName): \(text)")
                }
            }
        }
    }

    /// A call refused by its argument checks sends nothing and has no span.
    @Test(arguments: BackendKind.allCases)
    func refusedArgumentsHaveNoSpan(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let tracer = InMemoryTracer()
            let client = try env.makeClient(tracer: tracer)
            let calls = env.backend.calls
            await expectLockError(.invalidArgument) { _ = try await client.lock([], locker: "u") }
            await expectLockError(.invalidArgument) { _ = try await client.lock("r", locker: "") }
            await expectLockError(.invalidArgument) { _ = try await client.refresh(["r", "r"]) }
            await expectLockError(.invalidArgument) { _ = try await client.unlock("", locker: "u") }
            await expectLockError(.invalidArgument) { _ = try await client.locker(of: [String]()) }
            await expectLockError(.invalidArgument) { _ = try await client.holders(of: ["{r}"]) }
            #expect(env.backend.calls == calls)
            #expect(tracer.popFinishedSpans().isEmpty)
            #expect(tracer.activeSpans.isEmpty)
        }
    }

    /// A failed call ends its span with the error recorded.
    @Test(arguments: BackendKind.allCases)
    func failuresAreRecorded(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let tracer = InMemoryTracer()
            let client = try env.makeClient(tracer: tracer)
            // A lock key of another type: serverError naming the resource.
            let key = env.keyspace.lockKey("foreign")
            if env.inspectionClients.isEmpty {
                _ = try await client.fencedWrite("x", to: key, fencingToken: 1)
            } else {
                for node in env.inspectionClients { _ = try await node.execute(RESPCommand("HSET", key, "f", "v")) }
            }
            _ = tracer.popFinishedSpans()
            let refusal = LockError.Code.serverError
            await expectLockError(refusal) { _ = try await client.lock(["free", "foreign"], locker: "u") }
            let spans = tracer.popFinishedSpans()
            #expect(spans.map(\.operationName) == ["locky.lock"])
            #expect((spans.first?.errors.first?.error as? LockError)?.code == refusal)
            #expect(tracer.activeSpans.isEmpty)
        }
    }

    /// With the server gone, every locker call still ends its one span with the error.
    @Test func unreachableServerIsRecordedInEverySpan() async throws {
        try await RedisServer.withServer { server throws in
            let tracer = InMemoryTracer()
            let client = try LockClient(
                configuration: try LockyConfiguration(url: "\(server.url)?connect_timeout=500ms&command_timeout=500ms"),
                tracer: tracer)
            _ = try await client.lock("warm", locker: "u")
            _ = tracer.popFinishedSpans()
            server.kill()
            await expectLockError(.backendUnavailable) { _ = try await client.lock("l", locker: "u", force: true) }
            await expectLockError(.backendUnavailable) { _ = try await client.refresh("l") }
            await expectLockError(.backendUnavailable) { _ = try await client.unlock("l", locker: "u") }
            await expectLockError(.backendUnavailable) { _ = try await client.locker(of: "l") }
            await expectLockError(.backendUnavailable) { _ = try await client.heldLocks() }
            let spans = tracer.popFinishedSpans()
            #expect(
                spans.map(\.operationName) == ["locky.lock", "locky.refresh", "locky.unlock", "locky.locker", "locky.locker"])
            for span in spans {
                #expect((span.errors.first?.error as? LockError)?.code == .backendUnavailable, "\(span.operationName)")
            }
            #expect(spans.first?.attributes["locky.force"]?.toSpanAttribute() == true)
            #expect(tracer.activeSpans.isEmpty)
            await client.close()
        }
    }
}
