import Locky
import Testing

/// Bad input is rejected with `invalidArgument` before anything is sent; odd but valid
/// resource names work, on every backend.
@Suite("Arguments and resource names conformance")
struct ArgumentConformanceTests {
    static let tooLong = String(repeating: "x", count: LockLimits.maximumResourceLength + 1)

    /// Calls that must each be rejected before reaching the backend.
    static let badCalls: [(String, @Sendable (LockClient) async throws -> Void)] = [
        ("empty resource", { _ = try await $0.acquire("", ttl: .seconds(1)) }),
        ("too long resource", { _ = try await $0.acquire(tooLong, ttl: .seconds(1)) }),
        ("zero TTL", { _ = try await $0.acquire("r", ttl: .zero) }),
        ("negative TTL", { _ = try await $0.acquire("r", ttl: .seconds(-1)) }),
        ("TTL above maximum", { _ = try await $0.acquire("r", ttl: LockLimits.maximumTTL + .milliseconds(1)) }),
        ("sub-millisecond TTL", { _ = try await $0.acquire("r", ttl: .microseconds(10)) }),
        // Below 3 ms, the least whole number of milliseconds above the default drift allowance
        // (ttl × 0.01 + 2 ms); 2.5 ms leaves 0.475 ms, shorter than a round trip may take.
        ("TTL below 3 ms", { _ = try await $0.acquire("r", ttl: .microseconds(2500)) }),
        ("TTL below 3 ms, try once", { _ = try await $0.tryAcquire("r", ttl: .microseconds(2999)) }),
        ("resource starting with }", { _ = try await $0.acquire("}x", ttl: .seconds(1)) }),
        ("locker resource starting with }", { _ = try await $0.lock(["a", "}"], locker: "u") }),
        ("duplicate resources", { _ = try await $0.acquire(["a", "b", "a"], ttl: .seconds(1)) }),
        ("empty list", { _ = try await $0.acquire([String](), ttl: .seconds(1)) }),
        ("empty resource in list", { _ = try await $0.tryAcquire(["a", ""], ttl: .seconds(1)) }),
        ("empty label", { _ = try await $0.acquire("r", ttl: .seconds(1), label: "") }),
        ("too long label", { _ = try await $0.acquire("r", ttl: .seconds(1), label: String(repeating: "l", count: 513)) }),
        ("empty locker", { _ = try await $0.lock("r", locker: "") }),
        ("lock empty list", { _ = try await $0.lock([String](), locker: "u") }),
        ("lock duplicates", { _ = try await $0.lock(["a", "a"], locker: "u") }),
        ("lock empty resource", { _ = try await $0.lock("", locker: "u") }),
        ("refresh empty locker", { _ = try await $0.refresh("r", locker: "") }),
        ("refresh empty list", { _ = try await $0.refresh([String]()) }),
        ("unlock empty resource", { _ = try await $0.unlock("") }),
        ("unlock empty locker", { _ = try await $0.unlock("r", locker: "") }),
        ("unlock too long", { _ = try await $0.unlock(tooLong) }),
        ("holders empty list", { _ = try await $0.holders(of: [String]()) }),
        ("locker of empty", { _ = try await $0.locker(of: "") }),
        ("holders duplicates", { _ = try await $0.holders(of: ["a", "a"]) }),
    ]

    @Test(arguments: BackendKind.allCases)
    func badInputIsRejectedBeforeAnythingIsSent(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            for (name, call) in Self.badCalls {
                do {
                    try await call(env.client)
                    Issue.record("\(name): accepted")
                } catch let error as LockError {
                    #expect(error.code == .invalidArgument, "\(name): \(error)")
                }
            }
            #expect(env.backend.calls == 0)
            if let count = try await env.keyCount() { #expect(count == 0) }
            #expect(try await env.client.locker(of: "r") == nil)
            #expect(try await env.client.locker(of: "a") == nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func badExtendArgumentsChangeNothing(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let lease = try await env.client.acquire("r", ttl: .seconds(5))
            let calls = env.backend.calls
            let before = try #require(try await env.expiry("r").ms)
            for ttl: Duration in [.zero, .seconds(-3), LockLimits.maximumTTL + .seconds(1)] {
                await expectLockError(.invalidArgument) { try await env.client.extend(lease, toExpireIn: ttl) }
                await expectLockError(.invalidArgument) { try await env.client.extend(lease, by: ttl) }
            }
            #expect(env.backend.calls == calls)
            let after = try #require(try await env.expiry("r").ms)
            #expect(after <= before)
            #expect(lease.isValid)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func boundaryValuesAreAccepted(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let longest = String(repeating: "y", count: LockLimits.maximumResourceLength)
            let lease = try await env.client.acquire(longest, ttl: LockLimits.maximumTTL)
            #expect(try await env.storedOwner(longest) == lease.owner)
            // The limit counts UTF-8 bytes: 128 four-byte emoji fit, 129 do not.
            let emoji = String(repeating: "🔒", count: LockLimits.maximumResourceLength / 4)
            _ = try await env.client.acquire(emoji, ttl: LockLimits.minimumTTL + .seconds(5))
            await expectLockError(.invalidArgument) {
                _ = try await env.client.acquire(emoji + "🔒", ttl: .seconds(1))
            }
            let label = String(repeating: "l", count: LockLimits.maximumOwnerLength)
            let labelled = try await env.client.acquire("labelled", ttl: .seconds(1), label: label)
            #expect(labelled.label == label)
        }
    }

    static let oddNames = [
        "with space",
        "line\nbreak\r\n",
        "nul\0byte",
        "nul",
        "emoji 🔒🧵",
        "ümlaut-ß",
        "tab\tand \"quotes\" 'and' \\backslash",
        "{grp}:a",
        "{grp}:b",
        "lua ]] -- [[ injection",
        "%s %d",
        "*?[glob]",
    ]

    @Test(arguments: BackendKind.allCases)
    func binarySafeAndUnicodeResourceNames(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            var leases: [Lease] = []
            for name in Self.oddNames {
                let lease = try await env.client.tryAcquire(name, ttl: .seconds(10), label: "odd")
                leases.append(lease)
                #expect(lease.fencingToken == 1, "\(name.debugDescription) shares a counter with another name")
                #expect(try await env.storedOwner(name) == lease.owner, "\(name.debugDescription)")
            }
            let lockers = try await env.client.locker(of: Self.oddNames)
            #expect(lockers.map(\.outcome) == leases.map(\.owner))
            // They are all distinct locks: every one is busy now.
            for name in Self.oddNames {
                await expectLockError(.busy) { _ = try await env.client.tryAcquire(name, ttl: .seconds(1)) }
            }
            for lease in leases {
                #expect(try await env.client.release(lease) == .released)
            }
            for name in Self.oddNames {
                #expect(try await env.expiry(name) == .missing, "\(name.debugDescription)")
            }
            // The locker API handles them too.
            let results = try await env.client.lock(Self.oddNames, locker: "locker ✓\0")
            #expect(results.allSatisfy { $0.outcome.isLocked })
            #expect(try await env.client.locker(of: "nul\0byte") == "locker ✓\0")
        }
    }

    /// "é" as one code point and as "e" plus a combining accent are equal Swift Strings but
    /// two Redis keys. Every backend keeps them apart, as Redis does: two locks, two lockers.
    @Test(arguments: BackendKind.allCases)
    func canonicallyEquivalentNamesAreDistinctLocks(kind: BackendKind) async throws {
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(composed == decomposed)  // Swift's String equality; not Redis's.
        try await withBackend(kind) { env throws in
            // Both in one all-or-nothing acquire: not "listed twice".
            let both = try await env.client.tryAcquire([composed, decomposed], ttl: .seconds(10))
            #expect(both.fencingTokens == [1, 1])
            #expect(try await env.client.release(both) == .released)

            let first = try await env.client.tryAcquire(composed, ttl: .seconds(10))
            let second = try await env.client.tryAcquire(decomposed, ttl: .seconds(10))
            #expect(second.fencingToken == 2)
            #expect(try await env.storedOwner(composed) == first.owner)
            #expect(try await env.storedOwner(decomposed) == second.owner)
            #expect(first.fencingToken(for: decomposed) == nil)
            #expect(try await env.client.release(first) == .released)
            #expect(try await env.storedOwner(decomposed) == second.owner)
            #expect(try await env.client.release(second) == .released)

            // Lockers too: one locker's name in the other form is someone else.
            #expect(try await env.client.lock("article", locker: composed).isLocked)
            let other = try await env.client.lock("article", locker: decomposed)
            guard case .busy(let holder) = other else {
                Issue.record("expected busy, got \(other)")
                return
            }
            #expect(holder.owner.utf8.elementsEqual(composed.utf8))
            guard case .heldByAnother = try await env.client.refresh("article", locker: decomposed) else {
                Issue.record("a refresh by the other form of the locker's name refreshed the lock")
                return
            }
        }
    }

    /// A name that is nothing but a hash tag (`{grp}`) would share its key with `grp`: it is
    /// rejected before anything is sent, and `grp` keeps its own lock.
    @Test(arguments: BackendKind.allCases)
    func nameThatIsOnlyAHashTagIsRejected(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let plain = try await env.client.tryAcquire("grp", ttl: .seconds(10))
            let error = await expectLockError(.invalidArgument) {
                _ = try await env.client.tryAcquire("{grp}", ttl: .seconds(10))
            }
            #expect(error?.resource == "{grp}")
            #expect(try await env.storedOwner("grp") == plain.owner)
        }
    }

    /// Durations in argument errors read as people write them (Swift's own description said
    /// `2678400.0 seconds` and `0.0025 seconds`).
    @Test func durationsInArgumentErrorsAreReadable() async throws {
        let client = try LockClient(configuration: LockyConfiguration(backend: .memory))
        let cases: [(Duration, String)] = [
            (.seconds(31 * 86_400), "the TTL (31 days) exceeds the maximum of 30 days"),
            (.microseconds(500), "the TTL (500 µs) must be at least 1 ms"),
            (.microseconds(2500), "the TTL (2.5 ms) leaves too little validity after the clock-drift allowance (2.025 ms:"),
        ]
        for (ttl, message) in cases {
            let error = await expectLockError(.invalidArgument) { _ = try await client.tryAcquire("r", ttl: ttl) }
            #expect(error?.message.hasPrefix(message) == true, "\(String(describing: error?.message))")
        }
        let negative = await expectLockError(.invalidArgument) {
            _ = try await client.acquire("r", ttl: .seconds(1), timeout: .milliseconds(-1500))
        }
        #expect(negative?.message == "the timeout (-1.5 s) is negative")
        await client.close()
    }
}
