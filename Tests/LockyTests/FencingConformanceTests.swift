import Locky
import NIOCore
import Testing

/// The fencing helper (`fencedWrite`, `fencedRead`) on every backend.
@Suite("Fencing helper conformance")
struct FencingConformanceTests {
    @Test(arguments: BackendKind.allCases)
    func acceptsEqualAndHigherTokensAndRejectsLowerOnes(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = env.client
            #expect(try await client.fencedRead("data:report") == nil)
            #expect(try await client.fencedWrite("v5", to: "data:report", fencingToken: 5) == .accepted)
            #expect(try await client.fencedRead("data:report") == FencedValue(value: ByteBuffer(string: "v5"), highestToken: 5))
            #expect(try await client.fencedWrite("v5b", to: "data:report", fencingToken: 5) == .accepted)
            #expect(try await client.fencedRead("data:report")?.string == "v5b")
            #expect(try await client.fencedWrite("v7", to: "data:report", fencingToken: 7) == .accepted)
            #expect(try await client.fencedWrite("stale", to: "data:report", fencingToken: 6) == .rejected(highestToken: 7))
            let value = try #require(try await client.fencedRead("data:report"))
            #expect(value.string == "v7")
            #expect(value.highestToken == 7)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func protectsAgainstAPausedHolder(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let paused = try await env.client.acquire("report", ttl: .milliseconds(150))
            try await env.pass(.milliseconds(300))
            let current = try await env.client.tryAcquire("report", ttl: .seconds(10))
            #expect(try await env.client.fencedWrite("new", to: "data", fencingToken: current.fencingToken) == .accepted)
            // The paused holder wakes up and writes with its old token: refused.
            let outcome = try await env.client.fencedWrite("old", to: "data", fencingToken: paused.fencingToken)
            #expect(outcome == .rejected(highestToken: current.fencingToken))
            #expect(try await env.client.fencedRead("data")?.string == "new")
        }
    }

    /// A read-modify-write that reads with its token: a stale holder's write can no longer land
    /// between the read and the write (with a plain read it could, and an update would be lost).
    @Test(arguments: BackendKind.allCases)
    func tokenCheckedReadFencesOutOlderWriters(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let client = env.client
            #expect(try await client.fencedRead("counter", fencingToken: 3) == .read(nil))
            #expect(try await client.fencedWrite("1", to: "counter", fencingToken: 2) == .rejected(highestToken: 3))
            #expect(try await client.fencedRead("counter") == nil, "the fence alone holds no value")
            #expect(try await client.fencedWrite("1", to: "counter", fencingToken: 3) == .accepted)
            // Holder 5 reads (raising the fence), holder 4 (paused, stale) then tries to write.
            guard case .read(let value?) = try await client.fencedRead("counter", fencingToken: 5) else {
                Issue.record("the token-checked read found no value")
                return
            }
            #expect(value.string == "1")
            #expect(value.highestToken == 3, "the token that wrote the value")
            #expect(try await client.fencedRead("counter")?.highestToken == 3, "the plain read answers the same")
            #expect(try await client.fencedWrite("2", to: "counter", fencingToken: 4) == .rejected(highestToken: 5))
            #expect(try await client.fencedRead("counter", fencingToken: 4) == .rejected(highestToken: 5))
            #expect(try await client.fencedWrite("2", to: "counter", fencingToken: 5) == .accepted)
            #expect(try await client.fencedRead("counter")?.string == "2")
            await expectLockError(.invalidArgument) { _ = try await client.fencedRead("counter", fencingToken: -1) }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func binaryValuesRoundTrip(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let bytes = ByteBuffer(bytes: [0, 1, 2, 255, 10, 13, 0])
            #expect(try await env.client.fencedWrite(bytes, to: "bin", fencingToken: 1) == .accepted)
            #expect(try await env.client.fencedRead("bin")?.value == bytes)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func rejectsBadArgumentsBeforeSending(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            await expectLockError(.invalidArgument) {
                _ = try await env.client.fencedWrite("x", to: "", fencingToken: 1)
            }
            await expectLockError(.invalidArgument) {
                _ = try await env.client.fencedWrite("x", to: "k", fencingToken: -1)
            }
            await expectLockError(.invalidArgument) {
                _ = try await env.client.fencedRead("")
            }
            #expect(env.backend.calls == 0)
        }
    }
}
