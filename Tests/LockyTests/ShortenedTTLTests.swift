import Testing

@testable import Locky

/// A TTL shortened after the `locked` event (an extend to less than was left, a refresh,
/// re-lock or renewal with a shorter TTL) still expires on time: the scripts publish the new
/// TTL when it is earlier than the old one, and the expiry watcher looks at the lock then.
/// Before, the watcher knew only the `locked` event's deadline, and Redis expired the key on
/// its own schedule: up to 100 ms late at `hz 10` (the test servers' default).
@Suite("Shortened TTLs")
struct ShortenedTTLTests {
    /// The ways a held lock's TTL is set again.
    enum Change: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// A lease's extend, "expire `ttl` from now".
        case extend
        /// The locker API's refresh with a TTL.
        case refresh
        /// The locker API's lock by the locker that holds it.
        case relock
        /// A batch renewal item.
        case renew

        var testDescription: String { rawValue }

        /// Takes `resource` with `ttl`; returns the lease's owner (or the locker).
        func take(_ resource: String, ttl: Duration, in env: LockEnvironment) async throws -> String {
            switch self {
            case .extend, .renew:
                return try await env.client.tryAcquire(resource, ttl: ttl).owner
            case .refresh, .relock:
                let outcome = try await env.backend.lock([resource], locker: "editor", ttl: ttl, force: false)
                guard case .acquired = outcome.first else {
                    Issue.record("not acquired: \(outcome)")
                    return "editor"
                }
                return "editor"
            }
        }

        /// Sets `resource`'s TTL to `ttl` from now, as `owner`.
        func set(_ resource: String, owner: String, ttl: Duration, in env: LockEnvironment) async throws {
            switch self {
            case .extend:
                #expect(try await env.backend.extend([resource], owner: owner, ttl: ttl, mode: .resetTo) == .extended)
            case .refresh:
                #expect(try await env.backend.refresh([resource], locker: owner, ttl: ttl) == [.refreshed])
            case .relock:
                let outcome = try await env.backend.lock([resource], locker: owner, ttl: ttl, force: false)
                guard case .alreadyHeld = outcome.first else {
                    Issue.record("not held: \(outcome)")
                    return
                }
            case .renew:
                #expect(try await env.backend.renew([RenewalItem(resource: resource, owner: owner, ttl: ttl)]) == [.renewed])
            }
        }
    }

    /// Locks taken for 5 s and shortened to 200-295 ms expire within milliseconds of the new
    /// deadline, never before it. The deadlines are spread over 100 ms, so Redis's own expiry
    /// cycle (every 100 ms at `hz 10`) would report them 0-100 ms late: p50 about 50 ms.
    @Test(arguments: BackendKind.allCases, Change.allCases)
    func aShortenedTTLExpiresOnTime(kind: BackendKind, change: Change) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let count = 20
            let deadlines = Shared<[String: ContinuousClock.Instant]>([:])
            let recording = try await onBackendExecutor(env) {
                try await LockEventTests.recording(client) { recording in
                    var owners: [String] = []
                    for index in 0..<count { owners.append(try await change.take("short-\(index)", ttl: .seconds(5), in: env)) }
                    for index in 0..<count {
                        let ttl = Duration.milliseconds(200 + 5 * index)
                        let sent = ContinuousClock.now
                        try await change.set("short-\(index)", owner: owners[index], ttl: ttl, in: env)
                        deadlines.update { $0["short-\(index)"] = sent + ttl }
                    }
                    let complete = try await recording.wait(within: .seconds(3)) { descriptions in
                        descriptions.filter { $0.hasPrefix("expired") }.count >= count
                    }
                    #expect(complete, "\(recording.descriptions)")
                }
            }
            var lags: [Double] = []
            for (event, at) in recording.events.value {
                guard case .expired(let resource) = event, let deadline = deadlines.value[resource] else { continue }
                lags.append((at - deadline).milliseconds)
            }
            #expect(lags.count == count)
            // Never before the deadline: the TTL was set after `sent`.
            #expect((lags.min() ?? 0) >= 0, "an expiry was reported \(-(lags.min() ?? 0)) ms before its deadline")
            let (p50, maximum) = (percentile(lags, 0.5), lags.max() ?? 0)
            #expect(p50 <= 30 && maximum <= 50, "expiry lag p50 \(p50) ms, max \(maximum) ms")
        }
    }

    /// A lengthened TTL is no news: the watcher looks at the old deadline, finds the lock
    /// held, and looks again at the new one. No `expired` before it, a timely one after it.
    @Test(arguments: BackendKind.allCases, [Change.extend, Change.refresh])
    func aLengthenedTTLExpiresAtItsNewDeadlineOnly(kind: BackendKind, change: Change) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let count = 5
            let deadlines = Shared<[String: ContinuousClock.Instant]>([:])
            let recording = try await onBackendExecutor(env) {
                try await LockEventTests.recording(client) { recording in
                    for index in 0..<count {
                        let owner = try await change.take("long-\(index)", ttl: .milliseconds(150), in: env)
                        let ttl = Duration.milliseconds(600 + 10 * index)
                        let sent = ContinuousClock.now
                        try await change.set("long-\(index)", owner: owner, ttl: ttl, in: env)
                        deadlines.update { $0["long-\(index)"] = sent + ttl }
                    }
                    let complete = try await recording.wait(within: .seconds(3)) { descriptions in
                        descriptions.filter { $0.hasPrefix("expired") }.count >= count
                    }
                    #expect(complete, "\(recording.descriptions)")
                    // A second report would come soon after.
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            var lags: [Double] = []
            for (event, at) in recording.events.value {
                guard case .expired(let resource) = event, let deadline = deadlines.value[resource] else { continue }
                lags.append((at - deadline).milliseconds)
            }
            #expect(lags.count == count, "\(recording.descriptions)")
            #expect((lags.min() ?? 0) >= 0, "an expiry was reported \(-(lags.min() ?? 0)) ms before its new deadline")
            #expect((lags.max() ?? 0) <= 50, "expiry lags \(lags) ms")
        }
    }

    /// The news itself: one `ttlShortened` per shortened lock, with the new TTL, on every
    /// backend (on Redlock once, when a quorum of nodes reported it); none for a TTL made
    /// longer or set to what it was, nor for a refresh that removes the expiry. Public loops
    /// over the stream never see it.
    @Test(arguments: BackendKind.allCases)
    func onlyAnEarlierExpiryIsNews(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let news = Shared<[String]>([])
            let seenByUsers = Shared<Int>(0)
            try await env.backend.withEvents(expirations: true) { stream in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let source = stream.makeBackendEventSource()
                        while let event = await source.next() {
                            if case .ttlShortened(let resource, let ttl) = event {
                                news.update { $0.append("\(resource) \(ttl.wholeMilliseconds) ms") }
                            }
                        }
                    }
                    group.addTask {
                        for await _ in stream { seenByUsers.update { $0 += 1 } }
                    }
                    // Subscribed when the body runs; let both loops start.
                    try await Task.sleep(for: .milliseconds(50))
                    for change in Change.allCases {
                        let owner = try await change.take("\(change)", ttl: .seconds(60), in: env)
                        try await change.set("\(change)", owner: owner, ttl: .seconds(90), in: env)
                        try await change.set("\(change)", owner: owner, ttl: .seconds(30), in: env)
                        try await change.set("\(change)", owner: owner, ttl: .seconds(30), in: env)
                    }
                    // Adding time, or removing the expiry, never makes a lock expire sooner.
                    let lease = try await env.client.tryAcquire("added", ttl: .seconds(60))
                    #expect(
                        try await env.backend.extend(["added"], owner: lease.owner, ttl: .seconds(5), mode: .addTo) == .extended)
                    _ = try await env.backend.lock(["persisted"], locker: "editor", ttl: .seconds(60), force: false)
                    #expect(try await env.backend.refresh(["persisted"], locker: "editor", ttl: nil) == [.refreshed])
                    // A lock without expiry given one: earlier than never.
                    #expect(try await env.backend.refresh(["persisted"], locker: "editor", ttl: .seconds(20)) == [.refreshed])
                    let expected = Change.allCases.map { "\($0) 30000 ms" } + ["persisted 20000 ms"]
                    let arrived = try await eventually(within: .seconds(3)) { news.value.count >= expected.count }
                    #expect(arrived)
                    // Anything more (a duplicate from the third Redlock node) would come soon after.
                    try await Task.sleep(for: .milliseconds(200))
                    #expect(news.value.sorted() == expected.sorted())
                    group.cancelAll()
                }
            }
            // 4 × 1 `locked` + `added` + `persisted`, and nothing else.
            #expect(seenByUsers.value == Change.allCases.count + 2)
        }
    }
}
