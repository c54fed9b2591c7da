import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import NIOCore
import Testing

/// Bad input, everywhere: every API with every hostile argument gets its typed error (or, when
/// the argument is legitimate, works), and a rejected call leaves the store as it was: no key,
/// no value, no event changed, nothing sent.
@Suite("Hostile input", .timeLimit(.minutes(5)))
struct HostileInputTests {
    typealias Fixture = HostileCase.Fixture

    static let megabyte = String(repeating: "x", count: 1 << 20)
    static let tooLong = String(repeating: "x", count: LockLimits.maximumResourceLength + 1)
    static let longest = String(repeating: "y", count: LockLimits.maximumResourceLength)

    /// Resource names: (what, name, legitimate).
    static let names: [(String, String, Bool)] = [
        ("empty", "", false),
        ("513 bytes", tooLong, false),
        ("1 MB", megabyte, false),
        ("only a hash tag", "{grp}", false),
        ("the key of `a}` (`{a}}`)", "{a}}", false),
        ("the fence key of `{t}:x`", "{t}:x:fence", false),
        ("the queue key of `{t}:x`", "{t}:x:queue", false),
        ("the waiters key of `{t}:x`", "{t}:x:waiters", false),
        // U+0600 joins the character after it: as Characters these end in neither `:fence` nor `}`.
        ("the fence key of `{t}:x\u{600}`", "{t}:x\u{600}:fence", false),
        ("the key of `a}\u{600}` (`{a}\u{600}}`)", "{a}\u{600}}", false),
        ("a tagged name starting with a combining mark", "\u{301}{t}:x", true),
        ("512 bytes", longest, true),
        ("NUL and binary bytes", "a\0b\u{1}\u{7f}\u{80}", true),
        ("decoded invalid UTF-8", String(decoding: [0x61, 0xff, 0xfe, 0xc3] as [UInt8], as: UTF8.self), true),
        ("Unicode and emoji", "🔒 ümlaut-ß 中文", true),
        ("control characters", "\u{1}\u{1b}[31m\t\u{7}", true),
        ("CRLF and a RESP command", "a\r\n*3\r\n$3\r\nSET\r\n$8\r\ninjected\r\n$1\r\n1\r\n", true),
        ("glob *", "*", true),
        ("glob ?", "?", true),
        ("glob class and backslash", "[a-z]*\\", true),
        ("empty hash tag", "{}", true),
        ("hash-tagged name", "{t}:x", true),
        (":fence without a tag", "x:fence", true),
        ("Lua text", "]] .. redis.call('FLUSHALL') .. [[", true),
    ]

    /// Resource lists: (what, list, legitimate).
    static let lists: [(String, [String], Bool)] = [
        ("an empty list", [], false),
        ("a duplicate", ["a", "a"], false),
        ("a duplicate later", ["a", "b", "a"], false),
        ("an empty name in it", ["a", ""], false),
        ("a too long name in it", ["a", tooLong], false),
        ("10,001 names", (0...LockLimits.maximumResourcesPerCall).map { "n\($0)" }, false),
        ("two names in one slot", ["{g}:a", "{g}:b"], true),
        ("odd names", ["*", "a\0b", "🔒"], true),
    ]

    /// TTLs and other durations: (what, duration, legitimate).
    static let durations: [(String, Duration, Bool)] = [
        ("zero", .zero, false),
        ("-1 s", .seconds(-1), false),
        ("Int64.min ns", .nanoseconds(Int64.min), false),
        ("1 ns", .nanoseconds(1), false),
        ("999 µs", .microseconds(999), false),
        ("30 days + 1 ns", LockLimits.maximumTTL + .nanoseconds(1), false),
        ("Int64.max s", .seconds(Int64.max), false),
        ("2 × Int64.max s", .seconds(Int64.max) + .seconds(Int64.max), false),
        ("1 ms", .milliseconds(1), true),
        ("30 days", LockLimits.maximumTTL, true),
    ]

    /// Locker ids and labels: (what, owner, legitimate).
    static let owners: [(String, String, Bool)] = [
        ("empty", "", false),
        ("513 bytes", tooLong, false),
        ("1 MB", megabyte, false),
        ("512 bytes", longest, true),
        ("NUL", "a\0b", true),
        ("emoji", "🔒", true),
        ("CRLF", "a\r\nPING\r\n", true),
        ("glob", "*", true),
        ("a label that looks like a token", "x/0123456789abcdef0123456789abcdef", true),
    ]

    static func cases() throws -> [HostileCase] {
        let keyspace = try LockKeyspace()
        var cases: [HostileCase] = []
        func add(
            _ api: String, _ argument: String, _ legitimate: Bool, touching resources: [String] = [], keys: [String] = [],
            onRedlock: Bool = true, expecting expectation: HostileCase.Expectation? = nil,
            _ call: @escaping @Sendable (Fixture) async throws -> Void
        ) {
            cases.append(
                HostileCase(
                    api: api, argument: argument, expectation: expectation ?? (legitimate ? .succeeds : .rejected),
                    touches: resources.map(keyspace.lockKey) + keys, onRedlock: onRedlock, call: call))
        }

        for (what, name, ok) in names {
            add("tryAcquire", what, ok, touching: [name]) { f in
                _ = try await f.client.release(try await f.client.tryAcquire(name))
            }
            add("acquire(timeout:)", what, ok, touching: [name]) { f in
                _ = try await f.client.release(try await f.client.acquire(name, timeout: .seconds(1)))
            }
            add("acquire(fair:)", what, ok, touching: [name], onRedlock: false) { f in
                _ = try await f.client.release(try await f.client.acquire(name, timeout: .seconds(1), fair: true))
            }
            add("acquire(retry:)", what, ok, touching: [name]) { f in
                _ = try await f.client.release(try await f.client.acquire(name, retry: .never))
            }
            add("withLock", what, ok, touching: [name]) { f in
                _ = try await f.client.withLock(name, timeout: .seconds(1)) { _ in }
            }
            add("lock", what, ok, touching: [name]) { f in
                _ = try await f.client.lock(name, locker: "u")
                _ = try await f.client.unlock(name, locker: "u")
            }
            add("refresh", what, ok) { f in _ = try await f.client.refresh(name) }
            add("unlock", what, ok) { f in _ = try await f.client.unlock(name) }
            add("locker(of:)", what, ok) { f in _ = try await f.client.locker(of: name) }
            add("holder(of:)", what, ok) { f in _ = try await f.client.holder(of: name) }
        }

        for (what, list, ok) in lists {
            add("tryAcquire([…])", what, ok, touching: list) { f in
                _ = try await f.client.release(try await f.client.tryAcquire(list))
            }
            add("acquire([…], timeout:)", what, ok, touching: list) { f in
                _ = try await f.client.release(try await f.client.acquire(list, timeout: .seconds(1)))
            }
            add("withLock([…])", what, ok, touching: list) { f in
                _ = try await f.client.withLock(list, timeout: .seconds(1)) { _ in }
            }
            add("lock([…])", what, ok, touching: list) { f in
                _ = try await f.client.lock(list, locker: "u")
                _ = try await f.client.unlock(list, locker: "u")
            }
            add("refresh([…])", what, ok) { f in _ = try await f.client.refresh(list) }
            add("unlock([…])", what, ok) { f in _ = try await f.client.unlock(list) }
            add("locker(of: […])", what, ok) { f in _ = try await f.client.locker(of: list) }
            add("holders(of:)", what, ok) { f in _ = try await f.client.holders(of: list) }
        }

        for (what, duration, ok) in durations {
            // A 1 ms TTL is legitimate for the locker API, but a lease that short could never be
            // handed over valid (the drift allowance alone is 2 ms): rejected before sending.
            let tooShortForALease = ok && duration < .milliseconds(3)
            let leaseTTL: HostileCase.Expectation? = tooShortForALease ? .rejected : nil
            add("tryAcquire(ttl:)", what, ok, touching: ["t"], expecting: leaseTTL) { f in
                _ = try await f.client.release(try await f.client.tryAcquire("t", ttl: duration))
            }
            add("acquire(ttl:timeout:)", what, ok, touching: ["t"], expecting: leaseTTL) { f in
                _ = try await f.client.release(try await f.client.acquire("t", ttl: duration, timeout: .seconds(1)))
            }
            add("withLock(ttl:)", what, ok, touching: ["t"], expecting: leaseTTL) { f in
                _ = try await f.client.withLock("t", ttl: duration, timeout: .seconds(1)) { _ in }
            }
            add("withLock(maximumHoldTime:)", what, ok, touching: ["t"]) { f in
                do {
                    _ = try await f.client.withLock("t", timeout: .seconds(1), maximumHoldTime: duration) { _ in }
                } catch let error as LockError where ok && error.code == .lockLost {
                    // A 1 ms hold time may end the lease before the (empty) body returns.
                }
            }
            // Rejected extensions are tried on the lease every case must leave intact; legitimate
            // ones (1 ms would end it) on a lease of their own.
            add("extend(toExpireIn:)", what, ok, touching: ["t"], expecting: leaseTTL) { f in
                if ok && !tooShortForALease {
                    let lease = try await f.client.tryAcquire("t")
                    try await f.client.extend(lease, toExpireIn: duration)
                    _ = try await f.client.release(lease)
                } else {
                    try await f.client.extend(f.lease, toExpireIn: duration)
                }
            }
            add("extend(by:)", what, ok, touching: ["t"]) { f in
                if ok {
                    let lease = try await f.client.tryAcquire("t")
                    try await f.client.extend(lease, by: duration)
                    _ = try await f.client.release(lease)
                } else {
                    try await f.client.extend(f.lease, by: duration)
                }
            }
            add("startRenewing(maximumHoldTime:)", what, ok) { f in
                try f.client.startRenewing(f.lease, maximumHoldTime: duration)
                f.client.stopRenewing(f.lease)
            }
        }

        // Waiting and retrying on the held resource.
        add("acquire(timeout:)", "-1 ns", false) { f in _ = try await f.client.acquire("held", timeout: .nanoseconds(-1)) }
        add("acquire(timeout:)", "Int64.min ns", false) { f in
            _ = try await f.client.acquire("held", timeout: .nanoseconds(Int64.min))
        }
        cases.append(
            HostileCase(api: "acquire(timeout:)", argument: "zero on a held resource", expectation: .fails(.timedOut)) { f in
                _ = try await f.client.acquire("held", timeout: .zero)
            })
        let policies: [(String, RetryPolicy)] = [
            ("a negative delay", RetryPolicy(count: 1, delay: .seconds(-1), jitter: .zero)),
            ("a negative jitter", RetryPolicy(count: 1, delay: .zero, jitter: .seconds(-1))),
            ("an Int64.max s delay", RetryPolicy(count: 1, delay: .seconds(Int64.max), jitter: .zero)),
            ("an Int64.max s jitter", RetryPolicy(count: 1, delay: .zero, jitter: .seconds(Int64.max))),
        ]
        for (what, policy) in policies {
            add("acquire(retry:)", what, false) { f in _ = try await f.client.acquire("held", retry: policy) }
        }
        cases.append(
            HostileCase(api: "acquire(retry:)", argument: "never, on a held resource", expectation: .fails(.busy)) { f in
                _ = try await f.client.acquire("held", retry: .never)
            })

        for (what, owner, ok) in owners {
            add("tryAcquire(label:)", what, ok, touching: ["o"]) { f in
                _ = try await f.client.release(try await f.client.tryAcquire("o", label: owner))
            }
            add("lock(locker:)", what, ok, touching: ["o"]) { f in
                _ = try await f.client.lock("o", locker: owner)
                _ = try await f.client.unlock("o", locker: owner)
            }
            add("refresh(locker:)", what, ok) { f in _ = try await f.client.refresh("held", locker: owner) }
            add("unlock(locker:)", what, ok) { f in _ = try await f.client.unlock("held", locker: owner) }
        }

        // The fencing helper: its keys are the caller's own (any bytes); tokens are checked.
        let tokens: [(String, Int64, Bool)] = [
            ("token -1", -1, false), ("token Int64.min", .min, false), ("token 2^53 + 1", (1 << 53) + 1, false),
            ("token Int64.max", .max, false), ("token 0", 0, true), ("token 2^53", 1 << 53, true),
        ]
        for (what, token, ok) in tokens {
            add("fencedWrite", what, ok, keys: ["fenced:token"]) { f in
                _ = try await f.client.fencedWrite("v", to: "fenced:token", fencingToken: token)
            }
            // A read raises the fence: one above 2^53 would refuse every later (valid) write.
            add("fencedRead(fencingToken:)", what, ok, keys: ["fenced:read"]) { f in
                _ = try await f.client.fencedRead("fenced:read", fencingToken: token)
            }
        }
        add("fencedWrite", "an empty key", false) { f in _ = try await f.client.fencedWrite("v", to: "", fencingToken: 1) }
        add("fencedRead", "an empty key", false) { f in _ = try await f.client.fencedRead("") }
        let keys: [(String, String)] = [("CRLF in the key", "k\r\nFLUSHALL\r\n"), ("glob key", "*"), ("NUL in the key", "k\0")]
        for (what, key) in keys {
            add("fencedWrite", what, true, keys: [key]) { f in
                let written = try await f.client.fencedWrite("v", to: key, fencingToken: 1)
                let read = try await f.client.fencedRead(key)
                #expect(written == .accepted)
                #expect(read?.string == "v")
            }
        }
        let values: [(String, ByteBuffer)] = [
            ("a 1 MB value", ByteBuffer(string: megabyte)),
            ("invalid UTF-8 and NUL", ByteBuffer(bytes: [0xff, 0xfe, 0x00, 0xc3])),
            ("an empty value", ByteBuffer()),
        ]
        for (what, value) in values {
            add("fencedWrite", what, true, keys: ["fenced:value"]) { f in
                let written = try await f.client.fencedWrite(value, to: "fenced:value", fencingToken: 1)
                let read = try await f.client.fencedRead("fenced:value")
                #expect(written == .accepted)
                #expect(read?.value == value, "not stored byte for byte")
            }
        }
        var lockKey = HostileCase(
            api: "fencedWrite", argument: "the key of a held lock", expectation: .fails(.serverError)
        ) { f in _ = try await f.client.fencedWrite("v", to: keyspace.lockKey("held"), fencingToken: 1) }
        lockKey.onRedlock = false
        cases.append(lockKey)

        // Event patterns only filter locally: anything goes, nothing is sent but the subscription.
        let patterns = ["", "[", "[^", "\\", "\0", "🔒*", String(repeating: "*", count: 1 << 20)]
        for pattern in patterns {
            add("events(matching:)", "\(pattern.prefix(8).debugDescription) (\(pattern.utf8.count) bytes)", true) { f in
                try await f.client.events(matching: pattern) { _ in }
            }
        }
        return cases
    }

    /// A `U` event for `key`, as the scripts publish it: the Redis runs' barrier.
    static func barrierPayload(_ key: String) -> String {
        "U1:00:0:\(key.utf8.count):\(key)"
    }

    @Test(arguments: BackendKind.allCases)
    func everyAPIWithEveryHostileArgument(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let held = try await env.client.acquire("held", ttl: .seconds(120), label: "keeper", timeout: .zero)
            _ = try await env.client.lock("kept", locker: "keeper")
            let fixture = Fixture(client: env.client, lease: held)
            let events = Shared<[String]>([])
            try await env.backend.withEventHandler(
                expirations: false, { event in events.update { $0.append(LockEventTests.describe(event)) } }
            ) {
                var barrier = 0
                var checked = 0
                for hostile in try Self.cases() where kind != .redlock || hostile.onRedlock {
                    var before: RedisStateSnapshot?
                    before = try await env.stateSnapshot()
                    let calls = env.backend.calls
                    let eventsBefore = events.value.count
                    let outcome: Result<Void, any Error>
                    do {
                        try await within(.seconds(10), hostile.name) { try await hostile.call(fixture) }
                        outcome = .success(())
                    } catch {
                        outcome = .failure(error)
                    }
                    // Every event the call caused has arrived once the barrier has.
                    if let raw = env.raw {
                        barrier += 1
                        let marker = "__barrier-\(barrier)"
                        // Redlock passes an event on once a majority of nodes reported it: publish on each.
                        for node in env.nodeClients.isEmpty ? [raw] : env.nodeClients {
                            _ = try await node.execute(
                                RESPCommand(
                                    "PUBLISH", env.keyspace.eventChannel, Self.barrierPayload(env.keyspace.lockKey(marker))))
                        }
                        let arrived = try await eventually(within: .seconds(5)) { events.value.contains("unlocked \(marker)") }
                        try #require(arrived, "the barrier event never arrived")
                    }
                    let caused = events.value[eventsBefore...].filter { !$0.hasPrefix("unlocked __barrier-") }
                    var after: RedisStateSnapshot?
                    after = try await env.stateSnapshot()
                    let changed = after.map { $0.changedKeys(since: before ?? $0) } ?? []
                    let stray = changed.filter { key in !hostile.touches.contains { key.hasPrefix($0) } }

                    switch (hostile.expectation, outcome) {
                    case (.rejected, .failure(let error as LockError)) where error.code == .invalidArgument:
                        #expect(env.backend.calls == calls, "\(hostile.name): rejected after calling the backend")
                        #expect(changed.isEmpty && after?.size == before?.size, "\(hostile.name): changed \(changed)")
                        #expect(caused.isEmpty, "\(hostile.name): published \(caused)")
                    case (.fails(let code), .failure(let error as LockError)) where error.code == code:
                        #expect(stray.isEmpty, "\(hostile.name): changed \(stray)")
                        if hostile.touches.isEmpty { #expect(caused.isEmpty, "\(hostile.name): published \(caused)") }
                    case (.succeeds, .success):
                        #expect(stray.isEmpty, "\(hostile.name): changed \(stray)")
                    default:
                        Issue.record("\(hostile.name): expected \(hostile.expectation), got \(outcome)")
                    }
                    // The lease and the locker lock of every case are intact, and nothing was injected.
                    #expect(try await env.storedOwner("held") == held.owner, "\(hostile.name) disturbed the held lease")
                    #expect(try await env.client.locker(of: "kept") == "keeper", "\(hostile.name) disturbed the locker lock")
                    for node in env.inspectionClients {
                        let injected = try await node.execute(RESPCommand("EXISTS", "injected")).decode(as: Int.self)
                        #expect(injected == 0, "\(hostile.name) injected a command")
                    }
                    checked += 1
                }
                // SECURITY.md quotes these counts.
                #expect(checked == (kind == .redlock ? 421 : 446))
            }
            #expect(held.isValid)
        }
    }

    /// Waits without a practical limit (`Int64.max` seconds) on a lock that never expires, and
    /// retries with the longest allowed delay: both wait and end by cancellation, never trap.
    @Test(arguments: BackendKind.allCases)
    func enormousWaitsEndByCancellation(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            _ = try await env.client.lock("forever", locker: "keeper")
            let client = env.client
            let waits: [(String, @Sendable () async throws -> Void)] = [
                ("timeout Int64.max s", { _ = try await client.acquire("forever", timeout: .seconds(Int64.max)) }),
                (
                    "timeout Int64.max s, fair",
                    { _ = try await client.acquire("forever", timeout: .seconds(Int64.max), fair: true) }
                ),
                (
                    "retry every 30 days",
                    { _ = try await client.acquire("forever", retry: RetryPolicy(count: -1, delay: LockLimits.maximumTTL)) }
                ),
                (
                    "retry 30 days ± 15 days",
                    {
                        // The jitter stays below the delay: a zero delay would retry at once and end busy.
                        _ = try await client.acquire(
                            "forever",
                            retry: RetryPolicy(count: 1, delay: LockLimits.maximumTTL, jitter: LockLimits.maximumTTL / 2))
                    }
                ),
            ]
            for (what, wait) in waits where kind != .redlock || !what.contains("fair") {
                do {
                    try await within(.milliseconds(300), what, wait)
                    Issue.record("\(what): acquired a lock that is held forever")
                } catch is TestTimedOut {
                    // Still waiting, as it should; cancelled by `within`.
                } catch {
                    Issue.record("\(what): \(error)")
                }
            }
            #expect(try await env.client.locker(of: "forever") == "keeper")
        }
    }

    /// Configuration from a URL or `LOCKY_CONFIG`: malformed, huge, overflowing or injecting
    /// values are `invalidArgument`, never a crash.
    @Test func hostileConfiguration() throws {
        let urls = [
            "", "redis://", "redis://:@", "redis://127.0.0.1:0", "redis://127.0.0.1:65536", "redis://127.0.0.1:-1",
            "redis://127.0.0.1/-1", "redis://127.0.0.1/99999999999999999999999", "redis://127.0.0.1:6379\r\nFLUSHALL",
            "redis://127.0.0.1\0", "redis://[::1", "redis://127.0.0.1?connect_timeout=-1", "redis://127.0.0.1?command_timeout=0",
            "redis://127.0.0.1?keepalive=99999999999999h", "redis://127.0.0.1?timeout=1e400", "redis://127.0.0.1?protocol=4",
            "redis://127.0.0.1?name=a%20b", "redis://a%zz@127.0.0.1", "redis://:%ff%fe@127.0.0.1",
            "rediss://127.0.0.1?verify=maybe",
            "redis://127.0.0.1?ca=/x", "rediss://127.0.0.1?cert=/x", "unix://", "ftp://127.0.0.1",
            "redis://127.0.0.1/" + String(repeating: "9", count: 1 << 20),
            "redis://127.0.0.1?" + String(repeating: "&", count: 100_000) + "bogus=1",
        ]
        for url in urls {
            let shown = String(url.prefix(60)).debugDescription
            do {
                _ = try LockyConfiguration(url: url)
                Issue.record("\(shown): accepted")
            } catch {
                #expect(error.code == .invalidArgument, "\(shown): \(error)")
            }
        }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let documents = [
            "", "null", "[]", deep, "{\"ttl\": 1e14}", "{\"ttl\": 1e300}", "{\"ttl\": -1}", "{\"ttl\": 0}", "{\"ttl\": true}",
            "{\"ttl\": \"1e400\"}", "{\"ttl\": \"99999999999h\"}", "{\"ttl\": \"31d\"}", "{\"ttl\": \"2592001s\"}",
            "{\"lockerTTL\": 9.2e12}", "{\"retry\": {\"delay\": \"31d\"}}", "{\"retry\": {\"count\": 1e30}}",
            "{\"retry\": {\"jitter\": 1e13}}", "{\"retry\": {\"delay\": 2592000001}}", "{\"driftFactor\": 0.5}",
            "{\"driftFactor\": -0.1}", "{\"driftFactor\": 1e308}", "{\"prefix\": \"{x\"}", "{\"prefix\": \"\(Self.megabyte)\"}",
            "{\"label\": \"\"}", "{\"label\": \"\(Self.tooLong)\"}", "{\"url\": \"redis://127.0.0.1:6379\\r\\nFLUSHALL\"}",
            "{\"backend\": \"memory\", \"url\": \"redis://127.0.0.1\"}", "{\"ttl\": \"1s\", \"leaseTTL\": \"1s\"}",
            "{\"ttl\": \"1s\", \"unknown\": 1}",
        ]
        for json in documents {
            let shown = String(json.prefix(60)).debugDescription
            do {
                _ = try LockyConfiguration(json: json)
                Issue.record("\(shown): accepted")
            } catch {
                #expect(error.code == .invalidArgument, "\(shown): \(error)")
            }
            do {
                _ = try LockyConfiguration.fromEnvironment(["LOCKY_CONFIG": json, "LOCKY_URL": "memory://"])
                if !json.isEmpty { Issue.record("\(shown): accepted from the environment") }
            } catch {
                #expect(error.code == .invalidArgument, "\(shown): \(error)")
            }
        }
        for prefix in ["{", "}", "a{b}", String(repeating: "p", count: LockLimits.maximumPrefixLength + 1)] {
            let keyspaceError = #expect(throws: LockError.self) { _ = try LockKeyspace(prefix: prefix) }
            #expect(keyspaceError?.code == .invalidArgument, "\(prefix)")
            let clientError = #expect(throws: LockError.self) {
                _ = try LockClient(configuration: LockyConfiguration(backend: .memory, prefix: prefix))
            }
            #expect(clientError?.code == .invalidArgument, "\(prefix)")
        }
        for (what, duration, ok) in Self.durations {
            let lease = LockyConfiguration(backend: .memory, leaseTTL: duration)
            let locker = LockyConfiguration(backend: .memory, lockerTTL: duration)
            // A lease must outlast the 2 ms drift allowance; a locker lock need not.
            for (configuration, valid) in [(lease, ok && duration >= .milliseconds(3)), (locker, ok)] {
                do {
                    _ = try LockClient(configuration: configuration)
                    #expect(valid, "\(what): accepted")
                } catch {
                    #expect(!valid && error.code == .invalidArgument, "\(what): \(error)")
                }
            }
        }
        // Legitimate odd values work.
        #expect(try LockKeyspace(prefix: "*?[").lockKey("r") == "*?[{r}")
        #expect(try LockyConfiguration(json: "{\"ttl\": 2592000000}").leaseTTL == LockLimits.maximumTTL)
        let longPassword = try LockyConfiguration(url: "redis://:\(Self.megabyte)@127.0.0.1")
        guard case .redis(let redis) = longPassword.backend else { throw HarnessFailure("not Redis") }
        #expect(redis.password == Self.megabyte)
    }
}
