import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Logging
import Testing

/// The expiry watcher and the `expired` events of `LockClient.events(matching:)` when something
/// goes wrong: a look or listing that fails, keyspace notifications switched off while the
/// stream runs.
@Suite("Expiry watcher faults")
struct ExpiryWatcherFaultTests {
    /// What a test gets: the server, the backend wrapped to inject failures, a client over it,
    /// and a raw connection.
    struct Setup {
        let server: RedisServer
        let backend: RecordingBackend
        let client: LockClient
        let raw: RedisClient
    }

    /// A server whose keys expire only when accessed (`DEBUG SET-ACTIVE-EXPIRE 0`): an
    /// `expired` event then comes only from a look of the watcher, never from Redis on its own,
    /// so a look that does not happen shows as an event that never comes.
    static func withLazyServer(
        _ options: RedisServer.Options = RedisServer.Options(),
        url: ((RedisServer) -> String)? = nil,
        _ body: (Setup) async throws -> Void
    ) async throws {
        var options = options
        options.extraConfiguration.append("enable-debug-command local")
        try await RedisServer.withServer(options) { server throws in
            let raw = try RedisClient(configuration: RedisConfiguration(url: server.url))
            let redis = try RedisLockBackend(
                configuration: RedisConfiguration(url: url?(server) ?? server.url),
                keyspace: LockKeyspace(),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let backend = RecordingBackend(redis)
            let setup = Setup(server: server, backend: backend, client: try LockClient(backend: backend), raw: raw)
            do {
                _ = try await raw.execute(RESPCommand("DEBUG", "SET-ACTIVE-EXPIRE", "0"))
                try await body(setup)
            } catch {
                await redis.close()
                await raw.close()
                throw error
            }
            await redis.close()
            await raw.close()
        }
    }

    /// A store whose locks expire only when touched, for `kind`: Redis, the server of
    /// ``withLazyServer(_:url:_:)``; memory, a backend on a clock that cannot arm timers, whose
    /// locks expire only when the table next touches them or the client's expiry watcher looks
    /// (its own expiry timer needs a clock that can arm one). `body` gets the backend, wrapped
    /// to inject failures, and a client over it.
    static func withLazyStore(
        _ kind: BackendKind, _ body: (RecordingBackend, LockClient) async throws -> Void
    ) async throws {
        guard kind == .memory else {
            try await withLazyServer { setup throws in try await body(setup.backend, setup.client) }
            return
        }
        let clock = WakeSignalTests.SleepingClock()
        let backend = RecordingBackend(InMemoryLockBackend(clock: clock))
        let client = try LockClient(backend: backend, clock: clock)
        do {
            try await body(backend, client)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }

    /// The lag of the `expired` event of `resource` after `deadline`, or nil when none came.
    static func expiryLag(
        of resource: String, in recording: LockEventTests.Recording, after deadline: ContinuousClock.Instant
    ) -> Duration? {
        for (event, at) in recording.events.value {
            if case .expired(resource) = event { return at - deadline }
        }
        return nil
    }

    /// The look at a lock's deadline fails twice (a dropped connection): it is tried again a
    /// few milliseconds later. Before, the watcher dropped the batch whose holders call failed,
    /// and the expiry came only when Redis got to the key on its own (here: never). The same
    /// on memory, whose locks expire there only when looked at (see ``withLazyStore(_:_:)``).
    @Test(arguments: [BackendKind.redis, .memory])
    func aFailedLookIsTriedAgain(kind: BackendKind) async throws {
        try await Self.withLazyStore(kind) { backend, client throws in
            let recording = try await LockEventTests.recording(client) { recording in
                backend.failNextHolders(2)
                let sent = ContinuousClock.now
                _ = try await client.tryAcquire("a", ttl: .milliseconds(200))
                let deadline = sent + .milliseconds(200)
                let came = try await recording.wait(within: .seconds(3)) { $0.contains("expired a") }
                #expect(came, "\(recording.descriptions)")
                if let lag = Self.expiryLag(of: "a", in: recording, after: deadline) {
                    // Two retries: 20 ms, then 40 ms.
                    #expect(lag < .milliseconds(400), "the expiry came \(lag) after the deadline")
                }
            }
            #expect(!recording.descriptions.contains { $0.hasPrefix("error") }, "\(recording.descriptions)")
        }
    }

    /// The listing of the locks held when the stream starts fails once: it is tried again.
    /// Before, the locks taken before the watch were left to Redis until the next gap. The
    /// same on memory without an expiry timer.
    @Test(arguments: [BackendKind.redis, .memory])
    func aFailedListingIsTriedAgain(kind: BackendKind) async throws {
        try await Self.withLazyStore(kind) { backend, client throws in
            let sent = ContinuousClock.now
            _ = try await client.tryAcquire("old", ttl: .milliseconds(400))
            let deadline = sent + .milliseconds(400)
            backend.failNextListings(1)
            let recording = try await LockEventTests.recording(client) { recording in
                let came = try await recording.wait(within: .seconds(3)) { $0.contains("expired old") }
                #expect(came, "\(recording.descriptions)")
            }
            if let lag = Self.expiryLag(of: "old", in: recording, after: deadline) {
                #expect(lag < .milliseconds(300), "the expiry came \(lag) after the deadline")
            }
        }
    }

    /// The value of `notify-keyspace-events`.
    static func notificationFlags(_ server: RedisServer) throws -> String {
        let lines = try server.cli("CONFIG", "GET", "notify-keyspace-events").split(whereSeparator: \.isNewline)
        return lines.count > 1 ? String(lines[1]) : ""
    }

    /// An operator switches keyspace notifications off while a stream runs: the stream gets a
    /// gap and an error that says so within about a second, and they are switched on again (as
    /// the stream did at its start), so the next expiry is reported. Before, `expired` events
    /// stopped without a word.
    @Test func notificationsSwitchedOffAreReportedAndSwitchedOnAgain() async throws {
        try await Self.withLazyServer { setup throws in
            let errors = Shared<[LockError]>([])
            let recording = try await LockEventTests.recording(setup.client) { recording in
                _ = try await setup.raw.execute(RESPCommand("CONFIG", "SET", "notify-keyspace-events", ""))
                let reported = try await recording.wait(within: .seconds(3)) { $0.contains("error serverError") }
                #expect(reported, "\(recording.descriptions)")
                let flags = try Self.notificationFlags(setup.server)
                #expect(flags.contains("E") && flags.contains("x"), "notify-keyspace-events is \"\(flags)\"")
                _ = try await setup.client.tryAcquire("after", ttl: .milliseconds(50))
                #expect(try await recording.wait { $0.contains("expired after") }, "\(recording.descriptions)")
                for (event, _) in recording.events.value {
                    if case .error(let error) = event { errors.update { $0.append(error) } }
                }
            }
            #expect(recording.descriptions.contains("gap"), "\(recording.descriptions)")
            #expect(errors.value.count == 1, "\(errors.value)")
            #expect(errors.value.first?.message.contains("notify-keyspace-events Ex") == true, "\(errors.value)")
        }
    }

    /// A user who may read the flags but not set them (notifications configured in redis.conf):
    /// the stream starts quietly; switched off by an operator, it gets one error saying what to
    /// configure, not one every second while they stay off.
    @Test func notificationsSwitchedOffThatCannotBeSwitchedOnAreReportedOnce() async throws {
        let user = RedisServer.ACLUser(name: "locky", password: "nk-pw", rules: "~* &* +@all -config|set")
        let options = RedisServer.Options(
            password: "admin-pw", aclUsers: [user], extraConfiguration: ["notify-keyspace-events Ex"])
        try await RedisServer.withServer(options) { server throws in
            let client = try LockClient(
                configuration: LockyConfiguration(
                    backend: .redis(RedisConfiguration(url: "redis://locky:nk-pw@127.0.0.1:\(server.port)"))))
            do {
                let recording = try await LockEventTests.recording(client) { recording in
                    try await Task.sleep(for: .milliseconds(1200))
                    #expect(!recording.descriptions.contains { $0.hasPrefix("error") }, "\(recording.descriptions)")
                    try server.cli("CONFIG", "SET", "notify-keyspace-events", "")
                    let reported = try await recording.wait(within: .seconds(3)) { $0.contains("error serverError") }
                    #expect(reported, "\(recording.descriptions)")
                    // Two more checks while they stay off.
                    try await Task.sleep(for: .milliseconds(2200))
                }
                #expect(recording.descriptions.filter { $0.hasPrefix("error") }.count == 1, "\(recording.descriptions)")
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        }
    }
}
