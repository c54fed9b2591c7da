import Foundation
import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import NIOCore
import Testing

/// The Swift examples of README.md, the DocC articles and RELIABILITY.md, as written there
/// (adapted only as far as a test needs: a local server's URL, stand-ins for the reader's own
/// functions), so they keep compiling against the API and keep doing what the text says; and
/// the defaults and limits those documents state.
@Suite("Documented examples", .timeLimit(.minutes(3)))
struct DocumentedExamplesTests {
    // Stand-ins for the reader's own code that the examples call.
    static func charge(invoice: Int, fencingToken: Int64) async throws {}
    static func ship(order: Int, fencingToken: Int64) async throws {}
    static func backup() async throws {}

    /// The repository root, to read the documents themselves.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    // MARK: README.md, "Using the library"

    @Test func readmeWithLock() async throws {
        try await RedisServer.withServer { server throws in
            let environment = ["LOCKY_URL": server.url]
            // README: `LockClient.withClient(configuration: .fromEnvironment()) { locks in … }` (LOCKY_URL).
            try await LockClient.withClient(configuration: .fromEnvironment(environment)) { locks in
                try await locks.withLock("invoice:42", ttl: .seconds(10), timeout: .seconds(30)) { lease in
                    // Runs while the lock is held; cancelled (and withLock throws .lockLost) if it is lost.
                    try await Self.charge(invoice: 42, fencingToken: lease.fencingToken)
                    #expect(try await locks.locker(of: ["invoice:42"]).first?.outcome != nil)
                }
                // "always releases it"
                #expect(try await locks.holder(of: "invoice:42") == nil)
            }
        }
    }

    @Test func readmePiecesUnderneath() async throws {
        try await RedisServer.withServer { server throws in
            let environment = ["LOCKY_URL": server.url]
            let locks = try LockClient(configuration: .fromEnvironment(environment))

            // Lease API: wait up to 5 s for invoice 42, hold it for 10 s.
            let lease = try await locks.acquire("invoice:42", ttl: .seconds(10), timeout: .seconds(5))
            try await locks.extend(lease, toExpireIn: .seconds(10))  // or extend(lease, by: .seconds(5))
            try await locks.extend(lease, by: .seconds(5))

            // Another owner holds order:7, so the try-once acquire below is busy, as the comment says.
            let other = try await locks.tryAcquire("order:7", label: "other")
            var sawBusy = false
            // Try once: a lease, or LockError.busy with the holder and its remaining TTL.
            do {
                let both = try await locks.tryAcquire(["order:7", "stock:3"])  // all or nothing
                try await Self.ship(order: 7, fencingToken: both.fencingTokens[0])  // one per resource, in order
                _ = try await locks.release(both)
            } catch let error as LockError where error.code == .busy {
                print("held by \(error.holder?.displayName ?? "?")")
                sawBusy = true
                #expect(error.holder?.displayName == "other")
                #expect(error.holder?.remaining != nil)
            }
            #expect(sawBusy)
            #expect(try await locks.holder(of: "stock:3") == nil, "all or nothing")
            _ = try await locks.release(other)

            // Locker API: named holders, one round trip for many resources.
            let results = try await locks.lock(["article:12", "article:13"], locker: "user:20")
            let holder = try await locks.locker(of: "article:12")  // "user:20"
            let editing = try await locks.heldLocks(matching: "article:*")  // who holds what (SCAN; for tools, not hot paths)
            _ = try await locks.unlock("article:12", locker: "user:20")  // owner-checked variant
            #expect(results.map(\.outcome.isLocked) == [true, true])
            #expect(holder == "user:20")
            #expect(Set(editing.map(\.resource)) == ["article:12", "article:13"])
            #expect(try await locks.locker(of: "article:12") == nil)

            // Fencing: data in Redis that refuses writes from a stale holder.
            _ = try await locks.fencedWrite("v2", to: "invoice:42:data", fencingToken: lease.fencingToken)
            // A read-modify-write reads with its token too: from then on older holders' writes are refused,
            // so none can land between this read and the write (which would lose an update).
            if case .read(let current) = try await locks.fencedRead("invoice:42:total", fencingToken: lease.fencingToken) {
                let total = Int(current?.string ?? "0") ?? 0
                _ = try await locks.fencedWrite("\(total + 1)", to: "invoice:42:total", fencingToken: lease.fencingToken)
            }
            #expect(try await locks.fencedRead("invoice:42:total")?.string == "1")
            #expect(
                try await locks.fencedWrite("stale", to: "invoice:42:data", fencingToken: lease.fencingToken - 1)
                    == .rejected(highestToken: lease.fencingToken))
            let released = try await locks.release(lease)  // .released, .alreadyExpired or .alreadyReleased
            #expect(released == .released)
            #expect(try await locks.release(lease) == .alreadyReleased)

            // Events from every process. The README's loop runs until the client is closed: here
            // it runs beside a lock and an unlock, and close() ends it.
            let seen = Shared<[String]>([])
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await locks.events(matching: "article:*") { events in
                        for await event in events {
                            print(event)
                            seen.update { $0.append("\(event)") }
                        }
                    }
                }
                #expect(
                    try await eventually(within: .seconds(5)) {
                        _ = try? await locks.lock("article:14", locker: "user:21")
                        _ = try? await locks.unlock("article:14")
                        return seen.value.contains { $0.contains("article:14") }
                    })
                await locks.close()
                try await group.waitForAll()
            }
        }
    }

    @Test func readmeAndArticlesRedlockConfiguration() async throws {
        let servers = try await RedisServer.startMany(3)
        do {
            let urls = servers.map { "redis://127.0.0.1:\($0.port)" }  // the docs: "redis://10.0.0.1", …
            let nodes = try urls.map { try RedisConfiguration(url: $0) }
            let locks = try LockClient(
                configuration: LockyConfiguration(
                    backend: .redlock(RedlockConfiguration(nodes: nodes, nodeTimeout: .milliseconds(50)))))
            let lease = try await locks.tryAcquire("r", ttl: .seconds(5))
            #expect(try await locks.release(lease) == .released)
            await locks.close()
        } catch {
            for server in servers { await server.stop() }
            throw error
        }
        for server in servers { await server.stop() }
    }

    @Test func ownConnectionExample() async throws {
        try await RedisServer.withServer { server throws in
            let myRedisClient = try RedisClient(url: server.url)
            let locks = try LockClient(
                backend: RedisLockBackend(client: myRedisClient, keyspace: try LockKeyspace(prefix: "app:")))
            let lease = try await locks.tryAcquire("r", ttl: .seconds(5))
            #expect(try server.cli("TYPE", "app:{r}") == "string")
            _ = try await locks.release(lease)
            await locks.close()
            await myRedisClient.close()
        }
    }

    // MARK: GettingStarted.md

    @Test func gettingStartedTakeALock() async throws {
        try await RedisServer.withServer { server throws in
            try await LockClient.withClient(configuration: .fromEnvironment(["LOCKY_URL": server.url])) { locks in
                // Scoped: waits up to 30 s, renews while the body runs, always releases.
                try await locks.withLock("invoice:42", ttl: .seconds(10), timeout: .seconds(30)) { lease in
                    try await Self.charge(invoice: 42, fencingToken: lease.fencingToken)
                }

                // Try once: a lease, or LockError.busy with the holder and its remaining TTL.
                do {
                    let both = try await locks.tryAcquire(["order:7", "stock:3"])  // all or nothing
                    try await Self.ship(order: 7, fencingToken: both.fencingTokens[0])  // one per resource, in order
                    _ = try await locks.release(both)
                } catch let error as LockError where error.code == .busy {
                    print("held by \(error.holder?.displayName ?? "?")")
                }

                // Locker API: named holders, one round trip for many resources.
                let results = try await locks.lock(["article:12", "article:13"], locker: "user:20")
                let holder = try await locks.locker(of: "article:12")  // "user:20"
                _ = try await locks.unlock("article:12", locker: "user:20")  // owner-checked variant
                #expect(results.count == 2)
                #expect(holder == "user:20")
            }
        }
    }

    @Test func gettingStartedManualClock() async throws {
        let clock = ManualLockClock()
        let locks = try LockClient(backend: InMemoryLockBackend(clock: clock), clock: clock)
        let lease = try await locks.tryAcquire("job", ttl: .seconds(10))
        clock.advance(by: .seconds(11))
        // lease.isValid == false, and another owner can take "job".
        #expect(lease.isValid == false)
        let next = try await locks.tryAcquire("job", ttl: .seconds(10))
        #expect(next.fencingToken > lease.fencingToken)
        await locks.close()
    }

    // MARK: ChoosingTTLsAndRenewal.md

    @Test func choosingTTLsRenewal() async throws {
        try await RedisServer.withServer { server throws in
            try await LockClient.withClient(configuration: .fromEnvironment(["LOCKY_URL": server.url])) { locks in
                let lease = try await locks.acquire("report", ttl: .seconds(15), timeout: .seconds(5))
                try locks.startRenewing(lease, maximumHoldTime: .seconds(10 * 60))
                // The article watches the states in a `Task { }`; a task group here.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await state in lease.states() {
                            if case .lost(let reason) = state { print("lost report: \(reason)") }
                        }
                    }
                    #expect(locks.renewingCount == 1)
                    // Released: the states end, and so does the loop.
                    #expect(try await locks.release(lease) == .released)
                    try await group.waitForAll()
                }
            }
        }
    }

    // MARK: FencingTokens.md

    @Test func fencingTokensExample() async throws {
        try await RedisServer.withServer { server throws in
            let locks = try LockClient(configuration: .fromEnvironment(["LOCKY_URL": server.url]))
            let lease = try await locks.acquire("invoice:42", ttl: .seconds(10), timeout: .seconds(5))
            _ = try await locks.fencedWrite("v2", to: "invoice:42:data", fencingToken: lease.fencingToken)

            if case .read(let current) = try await locks.fencedRead("invoice:42:total", fencingToken: lease.fencingToken) {
                let total = Int(current?.string ?? "0") ?? 0
                _ = try await locks.fencedWrite("\(total + 1)", to: "invoice:42:total", fencingToken: lease.fencingToken)
            }
            _ = try await locks.release(lease)
            // The helper's hash, as the article describes it.
            #expect(try server.cli("TYPE", "invoice:42:total") == "hash")
            let pairs = try server.cli("HGETALL", "invoice:42:total").split(separator: "\n").map(String.init)
            let fields = Dictionary(
                uniqueKeysWithValues: stride(from: 0, to: pairs.count - 1, by: 2).map { (pairs[$0], pairs[$0 + 1]) })
            let token = String(lease.fencingToken)
            #expect(fields == ["value": "1", "fence": token, "written": token])
            await locks.close()
        }
    }

    // MARK: EventsAndExpiry.md

    @Test func eventsAndExpiryExample() async throws {
        try await RedisServer.withServer { server throws in
            let locks = try LockClient(configuration: .fromEnvironment(["LOCKY_URL": server.url]))
            let lines = Shared<[String]>([])
            @Sendable func print(_ line: String) { lines.update { $0.append(line) } }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await locks.events(matching: "article:*") { events in
                        for await event in events {
                            switch event {
                            case .locked(let resource, let locker, let ttl):
                                print("\(resource) taken by \(locker), ttl \(ttl.map { "\($0)" } ?? "none")")
                            case .unlocked(let resource): print("\(resource) released")
                            case .expired(let resource): print("\(resource) expired")
                            case .gap: print("events may have been missed: re-check what matters")
                            case .error(let error): print("watching: \(error)")
                            }
                        }
                    }
                }
                let complete = try await eventually(within: .seconds(5)) {
                    _ = try? await locks.lock("article:1", locker: "ed")
                    _ = try? await locks.unlock("article:1")
                    return lines.value.contains("article:1 released")
                }
                #expect(complete, "\(lines.value)")
                #expect(lines.value.contains("article:1 taken by ed, ttl none"), "\(lines.value)")
                await locks.close()
                try await group.waitForAll()
            }
        }
    }

    // MARK: HandlingErrors.md

    @Test func handlingErrorsExample() async throws {
        try await RedisServer.withServer { server throws in
            let locks = try LockClient(configuration: .fromEnvironment(["LOCKY_URL": server.url]))
            let other = try await locks.tryAcquire("nightly-backup", label: "host-b")
            var message = ""
            do {
                // A wait of zero tries once: a busy lock is `timedOut`, with its holder.
                try await locks.withLock("nightly-backup", timeout: .zero) { _ in
                    try await Self.backup()
                }
            } catch let error as LockError where error.code == .timedOut {
                message = "already running on \(error.holder?.displayName ?? "another machine")"
            }
            #expect(message == "already running on host-b")
            _ = try await locks.release(other)
            await locks.close()
        }
    }

    // MARK: LockyRedis.docc and README "The Redis client"

    @Test func redisClientExample() async throws {
        try await RedisServer.withServer { server throws in
            let redis = try RedisClient(url: server.url)
            let reply = try await redis.execute(RESPCommand("SET", "k", "v", "NX", "PX", 30_000))
            let results = await redis.execute(batch: [RESPCommand("INCR", "n"), RESPCommand("GET", "k")])  // one write
            #expect("\(reply)".contains("OK"))
            #expect(results.count == 2)
            let publisher = try RedisClient(url: server.url)
            try await redis.subscribe(channels: ["news"]) { messages in
                _ = try await publisher.execute(RESPCommand("PUBLISH", "news", "hello"))
                for await event in messages { /* .message(m) or .gap after a reconnect */
                    if case .message(let m) = event {
                        #expect(m.payloadString == "hello")
                        break
                    }
                }
            }
            await publisher.close()
            await redis.close()
        }
    }

    // MARK: RELIABILITY.md, "Fault proxy"

    @Test func faultProxyExample() async throws {
        try await RedisServer.withServer { server throws in
            try await FaultProxy.withProxy(upstream: server.port) { proxy in
                proxy.set(.latency(.milliseconds(50), jitter: .milliseconds(10)))  // each way unless a direction is given
                proxy.set(.bandwidth(bytesPerSecond: 1_000_000, direction: .serverToClient))
                proxy.blackhole(.both)  // drop silently: the bytes are lost for good
                proxy.set(.stall(.clientToServer))  // stop reading: bytes wait (TCP pushes back) and flow again on heal()
                proxy.heal()  // all of the above off
                await proxy.resetAll()  // every open connection: SO_LINGER 0 + close, both sides get an RST
                await proxy.halfOpen()  // .frozen (default), .finToClient or .finToServer
            }
        }
    }

    // MARK: README.md, "Key layout"

    /// Every kind of operation, and the keys and channels it leaves, against the README's table.
    @Test func keyLayoutIsTheReadmes() async throws {
        try await RedisServer.withServer { server throws in
            let configuration = try LockyConfiguration(url: server.url)
            let locks = try LockClient(configuration: configuration)
            func keys() throws -> Set<String> {
                Set(try server.cli("--scan", "--pattern", "*").split(separator: "\n").map(String.init))
            }
            let hex32 = /[0-9a-f]{32}/

            // A lease: a plain string, the owner `label/token`, with a PX expiry; and the fence counter.
            let lease = try await locks.tryAcquire("R", ttl: .seconds(10), label: "lbl")
            #expect(try keys() == ["locky:{R}", "locky:{R}:fence"])
            #expect(try server.cli("TYPE", "locky:{R}") == "string")
            let owner = try server.cli("GET", "locky:{R}")
            let ownerToken = try hex32.wholeMatch(in: owner.dropFirst(4))
            #expect(owner.hasPrefix("lbl/") && ownerToken != nil, "\(owner)")
            let pttl = Int(try server.cli("PTTL", "locky:{R}")) ?? -3
            #expect(pttl > 9_000 && pttl <= 10_000)
            #expect(try server.cli("TYPE", "locky:{R}:fence") == "string")
            #expect(try server.cli("GET", "locky:{R}:fence") == String(lease.fencingToken))
            #expect(try server.cli("PTTL", "locky:{R}:fence") == "-1")
            // Without a label the owner is the token alone.
            let bare = try await locks.tryAcquire("bare")
            let bareOwner = try server.cli("GET", "locky:{bare}")
            #expect(try hex32.wholeMatch(in: bareOwner) != nil, "\(bareOwner)")
            _ = try await locks.release(bare)

            // A resource with its own hash tag is used as it is.
            let tagged = try await locks.tryAcquire("{order-7}:pdf")
            #expect(try server.cli("TYPE", "locky:{order-7}:pdf") == "string")
            #expect(try server.cli("TYPE", "locky:{order-7}:pdf:fence") == "string")
            _ = try await locks.release(tagged)

            // The locker API: the locker id, without expiry (lockerTTL nil).
            _ = try await locks.lock("A", locker: "user:20")
            #expect(try server.cli("GET", "locky:{A}") == "user:20")
            #expect(try server.cli("PTTL", "locky:{A}") == "-1")

            // The fencing helper: a hash under the key named, fields value, fence, written.
            _ = try await locks.fencedWrite("v", to: "data:1", fencingToken: 7)
            #expect(try server.cli("TYPE", "data:1") == "hash")
            #expect(
                Set(try server.cli("HKEYS", "data:1").split(separator: "\n").map(String.init)) == [
                    "value", "fence", "written",
                ])

            // A queued (fair) waiter: the queue and waiters keys, expiring; its wake channel.
            let holder = try await locks.tryAcquire("R2", ttl: .seconds(10))
            try await withThrowingTaskGroup(of: Lease.self) { group in
                group.addTask { try await locks.acquire("R2", ttl: .seconds(10), timeout: .seconds(20), fair: true) }
                #expect(try await eventually(within: .seconds(5)) { try keys().contains("locky:{R2}:queue") })
                #expect(try server.cli("TYPE", "locky:{R2}:queue") == "zset")
                #expect(try server.cli("TYPE", "locky:{R2}:waiters") == "hash")
                #expect((Int(try server.cli("PTTL", "locky:{R2}:queue")) ?? -3) > 0)
                #expect((Int(try server.cli("PTTL", "locky:{R2}:waiters")) ?? -3) > 0)
                let ids = try server.cli("ZRANGE", "locky:{R2}:queue", "0", "-1").split(separator: "\n").map(String.init)
                #expect(ids.count == 1)
                let id = ids.first ?? ""
                let clientToken = String(id.prefix { $0 != "." })
                #expect(id.wholeMatch(of: /[0-9a-zA-Z_-]+\.[0-9]+/) != nil, "\(id)")
                let fields = Set(try server.cli("HKEYS", "locky:{R2}:waiters").split(separator: "\n").map(String.init))
                #expect(fields == [id, id + "#g", id + "#e", "#ticket"], "\(fields)")
                let channels = Set(try server.cli("PUBSUB", "CHANNELS").split(separator: "\n").map(String.init))
                #expect(channels.contains("locky:wake:" + clientToken), "\(channels)")
                _ = try await locks.release(holder)
                let handed = try await group.next()
                if let handed { _ = try await locks.release(handed) }
            }

            // Events: the scripts' channel and the keyspace channel of the database.
            try await locks.events { _ in
                let channels = Set(try server.cli("PUBSUB", "CHANNELS").split(separator: "\n").map(String.init))
                #expect(channels.isSuperset(of: ["locky:events", "__keyevent@0__:expired"]), "\(channels)")
            }
            _ = try await locks.release(lease)
            // What stays: fence counters (never expire), the locker's lock, the fenced value.
            // (The queue keys may outlive their last waiter until their own expiry.)
            let left = try keys().subtracting(["locky:{R2}:queue", "locky:{R2}:waiters"])
            #expect(
                left == [
                    "locky:{R}:fence", "locky:{bare}:fence", "locky:{order-7}:pdf:fence", "locky:{A}", "locky:{A}:fence",
                    "locky:{R2}:fence", "data:1",
                ], "\(left)")
            await locks.close()
        }
    }

    // MARK: Documented defaults and limits

    @Test func documentedDefaults() throws {
        let configuration = LockyConfiguration()
        #expect(configuration.prefix == "locky:")
        #expect(configuration.leaseTTL == .seconds(30))
        #expect(configuration.lockerTTL == nil)
        #expect(configuration.driftFactor == 0.01)
        #expect(configuration.retry == RetryPolicy(count: 10, delay: .milliseconds(200), jitter: .milliseconds(100)))
        guard case .redis(let redis) = configuration.backend else {
            Issue.record("the default backend is not Redis")
            return
        }
        #expect(redis.address == .tcp(host: "127.0.0.1", port: 6379))
        #expect(redis.commandTimeout == .seconds(5))
        #expect(redis.subscriptionLinger == .seconds(2))
        #expect(redis.keepAliveInterval == .seconds(30))
        let redlock = RedlockConfiguration(nodes: [redis])
        #expect(redlock.nodeTimeout == .milliseconds(100))
        #expect(redlock.recreateMissingLocks == false)
        #expect(LockLimits.maximumResourceLength == 512)
        #expect(LockLimits.maximumResourcesPerCall == 10_000)
        #expect(LockLimits.minimumTTL == .milliseconds(1))
        #expect(LockLimits.maximumTTL == .seconds(30 * 24 * 3600))
        #expect(try LockyConfiguration.fromEnvironment([:]) == configuration)
    }

    /// The URL forms of README's "Configuration" section.
    @Test func readmeURLForms() throws {
        let password = try RedisConfiguration(url: "redis://s3cret@host")
        #expect(password.username == nil && password.password == "s3cret")
        let user = try RedisConfiguration(url: "redis://user:p%40ss@host:6380/2")
        #expect(user.username == "user" && user.password == "p@ss" && user.database == 2)
        #expect(user.address == .tcp(host: "host", port: 6380))
        #expect(try RedisConfiguration(url: "unix:///path/to/socket").address == .unixSocket(path: "/path/to/socket"))
        let socket = try RedisConfiguration(url: "unix://u:p@/path/to/socket")
        #expect(socket.address == .unixSocket(path: "/path/to/socket") && socket.username == "u" && socket.password == "p")
        #expect(try LockyConfiguration(url: "memory://").backend == .memory)
        guard case .redlock(let redlock) = try LockyConfiguration(url: "redis://a:1,redis://b:2,redis://c:3").backend else {
            Issue.record("a list is not Redlock")
            return
        }
        #expect(redlock.nodes.count == 3 && redlock.quorum == 2)
        let options = try RedisConfiguration(
            url: "redis://h?connect_timeout=1s&command_timeout=2s&keepalive=off&name=worker&db=3&protocol=2")
        #expect(options.connectTimeout == .seconds(1) && options.commandTimeout == .seconds(2))
        #expect(options.keepAliveInterval == nil && options.clientName == "worker" && options.database == 3)
        #expect(options.preferRESP3 == false)
        // Refused: an option twice (also under two spellings, a database in path and query), signs.
        for url in [
            "redis://h?timeout=1s&command_timeout=2s", "redis://h/2?db=2", "redis://h:+6379", "redis://h/-1",
            "rediss://h?cert=/a.pem", "rediss://h?sni=10.0.0.1", "rediss://h?sni=", "rediss://h?ca=",
        ] {
            #expect(throws: (any Error).self, "\(url)") { try RedisConfiguration(url: url) }
        }
    }

    @Test func readmeConfigurationJSONParses() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "```json\n"),
            let end = readme.range(of: "\n```", range: start.upperBound..<readme.endIndex)
        else {
            Issue.record("README has no JSON example")
            return
        }
        let json = String(readme[start.upperBound..<end.lowerBound])
        let configuration = try LockyConfiguration(json: json)
        #expect(configuration.prefix == "app:")
        #expect(configuration.leaseTTL == .seconds(30))
        #expect(configuration.lockerTTL == nil)
        #expect(configuration.retry == RetryPolicy())
        #expect(configuration.label == "worker-1")
        guard case .redis(let redis) = configuration.backend else {
            Issue.record("not Redis")
            return
        }
        #expect(redis.address == .tcp(host: "10.0.0.5", port: 6379))
    }
}
