import Locky
import Testing

/// TTLs that are not whole milliseconds: Redis takes them rounded up (`PX` is in whole
/// milliseconds), so every backend sets, reports and expires them that way, at every entry
/// point that sets a TTL.
@Suite("TTL rounding conformance")
struct TTLRoundingConformanceTests {
    /// 1500.5 ms, which Redis keeps as 1501 ms.
    static let ttl = Duration.microseconds(1_500_500)
    static let rounded: Int64 = 1501

    /// Checks that `resource` has `expected` ms left: exactly on a manual clock (memory); on real
    /// time at most that, and no less than the round trips since it was set allow.
    static func expectRemaining(
        _ env: LockEnvironment,
        _ resource: String,
        _ expected: Int64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let remaining = try #require(
            try await env.backend.holders([resource])[0]?.remaining, "\(resource) is free or never expires",
            sourceLocation: sourceLocation)
        if env.manualClock != nil {
            #expect(remaining == .milliseconds(expected), "\(resource)", sourceLocation: sourceLocation)
        } else {
            #expect(remaining <= .milliseconds(expected), "\(resource): \(remaining)", sourceLocation: sourceLocation)
            #expect(
                remaining >= .milliseconds(expected - env.slack), "\(resource): \(remaining)", sourceLocation: sourceLocation)
        }
    }

    /// Acquire, lock (taken and already held), extend (both modes), renew and refresh.
    @Test(arguments: BackendKind.allCases)
    func everyEntryPointRoundsUpToWholeMilliseconds(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let backend = env.backend
            let ttl = Self.ttl
            let recording = try await LockEventTests.recording(env.client) { recording in
                _ = try await backend.acquire(["a"], owner: "owner-a", ttl: ttl)
                try await Self.expectRemaining(env, "a", Self.rounded)
                _ = try await backend.lock(["b"], locker: "locker-b", ttl: ttl, force: false)
                try await Self.expectRemaining(env, "b", Self.rounded)
                // A TTL well under a millisecond's worth of rounding: 2.5 ms is 3 ms.
                _ = try await backend.lock(["c"], locker: "locker-c", ttl: .microseconds(2500), force: false)
                if env.manualClock != nil { try await Self.expectRemaining(env, "c", 3) }
                let complete = try await recording.wait { $0.count >= 3 }
                #expect(complete, "\(recording.descriptions)")
            }
            // `c` may have expired meanwhile (on real time): its `expired` event is not the point.
            #expect(
                recording.descriptions.filter { $0.hasPrefix("locked") } == [
                    "locked a by owner-a for 1501 ms", "locked b by locker-b for 1501 ms", "locked c by locker-c for 3 ms",
                ])

            _ = try await backend.lock(["b"], locker: "locker-b", ttl: .seconds(20), force: false)
            #expect(try await backend.lock(["b"], locker: "locker-b", ttl: ttl, force: false) == [.alreadyHeld(fencingToken: 1)])
            try await Self.expectRemaining(env, "b", Self.rounded)

            #expect(try await backend.extend(["a"], owner: "owner-a", ttl: .seconds(20), mode: .resetTo) == .extended)
            #expect(try await backend.extend(["a"], owner: "owner-a", ttl: ttl, mode: .resetTo) == .extended)
            try await Self.expectRemaining(env, "a", Self.rounded)
            #expect(try await backend.extend(["a"], owner: "owner-a", ttl: ttl, mode: .addTo) == .extended)
            try await Self.expectRemaining(env, "a", 2 * Self.rounded)

            #expect(try await backend.renew([RenewalItem(resource: "a", owner: "owner-a", ttl: ttl)]) == [.renewed])
            try await Self.expectRemaining(env, "a", Self.rounded)

            _ = try await backend.lock(["d"], locker: "locker-d", ttl: nil, force: false)
            #expect(try await backend.refresh(["d"], locker: nil, ttl: ttl) == [.refreshed])
            try await Self.expectRemaining(env, "d", Self.rounded)

            // It expires when the rounded TTL has passed, not before.
            if let clock = env.manualClock {
                clock.advance(by: .milliseconds(Self.rounded))
                #expect(try await backend.holders(["d"])[0] != nil, "expired before its rounded TTL")
                clock.advance(by: .nanoseconds(1))
                #expect(try await backend.holders(["d"])[0] == nil)
            }
        }
    }

    /// The fair acquire and the hand-off to a queued waiter (Redlock has no fair queue).
    @Test(arguments: [BackendKind.memory, .redis])
    func fairAcquireAndHandOffRoundUpToWholeMilliseconds(kind: BackendKind) async throws {
        try await withBackend(kind) { env throws in
            let backend = env.backend
            let ttl = Self.ttl
            let recording = try await LockEventTests.recording(env.client) { recording in
                let fair = try await backend.acquireFair(
                    "f", owner: "fair-owner", ttl: ttl, waiter: "feedface.1", waiterTTL: .seconds(30), attempt: 1)
                #expect(fair == .acquired(fencingToken: 1))
                try await Self.expectRemaining(env, "f", Self.rounded)
                _ = try await backend.acquire(["h"], owner: "holder", ttl: .seconds(30))
                // A live waiter: it listens for its hand-off.
                try await backend.withWakeHandler(waiter: "feedface.2", { _ in }) {
                    let queued = try await backend.acquireFair(
                        "h", owner: "next-owner", ttl: ttl, waiter: "feedface.2", waiterTTL: .seconds(30), attempt: 1)
                    guard case .queued = queued else {
                        Issue.record("the waiter must be queued behind the holder: \(queued)")
                        return
                    }
                    #expect(try await backend.unlock(["h"], owner: "holder") == [.unlocked])
                    #expect(try await backend.holders(["h"])[0]?.owner == "next-owner")
                    try await Self.expectRemaining(env, "h", Self.rounded)
                }
                let complete = try await recording.wait { $0.count >= 4 }
                #expect(complete, "\(recording.descriptions)")
            }
            #expect(
                recording.descriptions == [
                    "locked f by fair-owner for 1501 ms", "locked h by holder for 30000 ms", "unlocked h",
                    "locked h by next-owner for 1501 ms",
                ])
        }
    }
}
