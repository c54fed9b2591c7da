import Locky
import LockyRedis
import Testing

/// `LockyConfiguration`: defaults, `fromEnvironment`, `init(json:)`, `init(url:)`. Pure.
@Suite("Configuration")
struct ConfigurationTests {
    @Test(arguments: [
        // (TTL ms, drift factor, valid, the smallest valid TTL the error names)
        (2, 0.01, false, 3), (3, 0.01, true, 3), (1, 0.0, false, 3), (3, 0.0, true, 3),
        (3, 0.4, false, 4), (4, 0.4, true, 4),
    ])
    func leaseTTLMustOutlastTheDriftAllowance(milliseconds: Int, driftFactor: Double, valid: Bool, minimum: Int) throws {
        // ttl − (ttl × driftFactor + 2 ms) must be positive, or no lease could be handed over valid.
        let configuration = LockyConfiguration(
            backend: .memory, leaseTTL: .milliseconds(milliseconds), driftFactor: driftFactor)
        if valid {
            try configuration.validate()
        } else {
            let error = #expect(throws: LockError.self) { try configuration.validate() }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("use at least \(minimum) ms") == true, "\(String(describing: error))")
        }
    }

    @Test func defaults() throws {
        let configuration = try LockyConfiguration.fromEnvironment([:])
        #expect(configuration == LockyConfiguration())
        guard case .redis(let redis) = configuration.backend else {
            Issue.record("default backend is not Redis")
            return
        }
        #expect(redis.address == .tcp(host: "127.0.0.1", port: 6379))
        #expect(configuration.prefix == "locky:")
        #expect(configuration.leaseTTL == .seconds(30))
        #expect(configuration.lockerTTL == nil)
        #expect(configuration.retry == RetryPolicy(count: 10, delay: .milliseconds(200), jitter: .milliseconds(100)))
        #expect(configuration.driftFactor == 0.01)
        #expect(configuration.label == nil)
        // Blank variables count as unset.
        #expect(
            try LockyConfiguration.fromEnvironment(["LOCKY_URL": "  ", "LOCKY_CONFIG": "\n", "LOCKY_PREFIX": ""]) == configuration
        )
    }

    /// Credentials in `LOCKY_URL`, Redlock settings in `LOCKY_CONFIG`: the URL list replaces
    /// only the nodes (it used to reset the settings to their defaults, silently).
    @Test func lockyURLKeepsTheRedlockSettingsOfTheJSON() throws {
        let configuration = try LockyConfiguration.fromEnvironment([
            "LOCKY_CONFIG": #"{"url": "redis://a,redis://b,redis://c", "nodeTimeout": "20ms", "recreateMissingLocks": true}"#,
            "LOCKY_URL": "redis://a,redis://b,redis://d",
        ])
        guard case .redlock(let redlock) = configuration.backend else {
            Issue.record("not Redlock: \(configuration.backend)")
            return
        }
        // The nodes are LOCKY_URL's (d, not c), in its order.
        #expect(redlock.nodes.map(\.address) == ["a", "b", "d"].map { RedisAddress.tcp(host: $0, port: 6379) })
        #expect(redlock.nodeTimeout == .milliseconds(20))
        #expect(redlock.recreateMissingLocks)
    }

    /// JSONSerialization keeps the last of two equal keys, silently: `{"ttl":"1s","ttl":"2s"}`
    /// configured 2 s, and a typo'd copy-paste went unnoticed.
    @Test(arguments: [
        (#"{"ttl": "1s", "ttl": "2s"}"#, #"LOCKY_CONFIG has the key "ttl" twice"#),
        (#"{"ttl": "1s", "t\u0074l": "2s"}"#, #"LOCKY_CONFIG has the key "ttl" twice"#),
        (#"{"retry": {"count": 1, "delay": "1s", "count": 2}}"#, #"LOCKY_CONFIG.retry has the key "count" twice"#),
        (#"{"label": "a\"{,b", "prefix": "p:", "label": "c"}"#, #"LOCKY_CONFIG has the key "label" twice"#),
    ])
    func duplicateKeysAreRejected(json: String, message: String) {
        let error = #expect(throws: LockError.self) { _ = try LockyConfiguration(json: json) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        let fromEnvironment = #expect(throws: LockError.self) {
            _ = try LockyConfiguration.fromEnvironment(["LOCKY_CONFIG": json])
        }
        #expect(fromEnvironment?.message.contains(message) == true)
    }

    @Test func equalKeysInDifferentObjectsOrInsideStringsAreNotDuplicates() throws {
        let configuration = try LockyConfiguration(
            json: #"{"label": "ttl \"ttl\": {count}", "retry": {"count": 2, "delay": "1s"}, "ttl": "5s"}"#)
        #expect(configuration.label == #"ttl "ttl": {count}"#)
        #expect(configuration.retry.count == 2)
        #expect(configuration.leaseTTL == .seconds(5))
    }

    /// The README says LOCKY_URL's nodes take LOCKY_CONFIG's Redlock settings, but
    /// `{"nodeTimeout": "50ms"}` without a Redlock url of its own was refused ("need a Redlock
    /// url"), so nodeTimeout could only be set by repeating the node list in the JSON.
    @Test func redlockSettingsApplyToTheNodesOfLockyURL() throws {
        let nodes = "redis://a,redis://b,redis://c"
        let configuration = try LockyConfiguration.fromEnvironment([
            "LOCKY_CONFIG": #"{"nodeTimeout": "50ms", "recreateMissingLocks": true}"#, "LOCKY_URL": nodes,
        ])
        guard case .redlock(let redlock) = configuration.backend else {
            Issue.record("not Redlock: \(configuration.backend)")
            return
        }
        #expect(redlock.nodes.map(\.address) == ["a", "b", "c"].map { RedisAddress.tcp(host: $0, port: 6379) })
        #expect(redlock.nodeTimeout == .milliseconds(50))
        #expect(redlock.recreateMissingLocks)
        // A number of milliseconds is a duration too.
        let numeric = try LockyConfiguration.fromEnvironment(["LOCKY_CONFIG": #"{"nodeTimeout": 75}"#, "LOCKY_URL": nodes])
        #expect(numeric.backend == .redlock(RedlockConfiguration(nodes: redlock.nodes, nodeTimeout: .milliseconds(75))))
        // A JSON Redlock url overridden by one server drops its settings, as before.
        let single = try LockyConfiguration.fromEnvironment([
            "LOCKY_CONFIG": #"{"url": "\#(nodes)", "nodeTimeout": "50ms"}"#, "LOCKY_URL": "redis://a",
        ])
        #expect(single.backend == .redis(try RedisConfiguration(url: "redis://a")))
    }

    @Test func urlMayBeAnArrayOfNodeURLs() throws {
        let configuration = try LockyConfiguration(
            json: #"{"url": ["redis://a", "redis://:p,w@b", "redis://c"], "nodeTimeout": "50ms"}"#)
        guard case .redlock(let redlock) = configuration.backend else {
            Issue.record("not Redlock: \(configuration.backend)")
            return
        }
        #expect(redlock.nodes.map(\.address) == ["a", "b", "c"].map { RedisAddress.tcp(host: $0, port: 6379) })
        #expect(redlock.nodes[1].password == "p,w")
        #expect(redlock.nodeTimeout == .milliseconds(50))
        #expect(
            try LockyConfiguration(json: #"{"url": ["redis://a"]}"#).backend == .redis(try RedisConfiguration(url: "redis://a")))
    }

    @Test(arguments: [
        (#"{"nodeTimeout": "50ms"}"#, "nodeTimeout applies to Redlock only"),
        (#"{"url": "redis://a", "recreateMissingLocks": true}"#, "recreateMissingLocks applies to Redlock only"),
        (
            #"{"nodeTimeout": "50ms", "recreateMissingLocks": true}"#,
            "nodeTimeout and .recreateMissingLocks apply to Redlock only"
        ),
        (#"{"url": "redis://a,redis://b,redis://c", "nodeTimeout": ["50ms", "60ms", "70ms"]}"#, "one duration for every node"),
        (#"{"url": []}"#, "an array of node URLs"),
        (#"{"url": ["redis://a", 7]}"#, "an array of node URLs"),
        (#"{"url": ["redis://a", "http://b"]}"#, "entry 2 of 2"),
    ])
    func redlockSettingsErrorsSayWhatIsExpected(json: String, message: String) {
        let error = #expect(throws: LockError.self) { _ = try LockyConfiguration(json: json) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    @Test func lockyURLSelectsTheBackend() throws {
        let memory = try LockyConfiguration.fromEnvironment(["LOCKY_URL": "memory://"])
        #expect(memory.backend == .memory)

        let plain = try LockyConfiguration.fromEnvironment(["LOCKY_URL": "redis://cache.internal:6380/2"])
        guard case .redis(let redis) = plain.backend else {
            Issue.record("redis:// did not select Redis")
            return
        }
        #expect(redis.address == .tcp(host: "cache.internal", port: 6380))
        #expect(redis.database == 2)
        #expect(redis.tls == nil)

        let tls = try LockyConfiguration.fromEnvironment(["LOCKY_URL": "rediss://:pa%40ss@secure.internal"])
        guard case .redis(let secure) = tls.backend else {
            Issue.record("rediss:// did not select Redis")
            return
        }
        #expect(secure.tls != nil)
        #expect(secure.password == "pa@ss")
        #expect(secure.address == .tcp(host: "secure.internal", port: 6379))

        let unix = try LockyConfiguration.fromEnvironment(["LOCKY_URL": "unix:///run/redis.sock"])
        #expect(unix.backend == .redis(try RedisConfiguration(url: "unix:///run/redis.sock")))
    }

    @Test func lockyPrefix() throws {
        let configuration = try LockyConfiguration.fromEnvironment(["LOCKY_PREFIX": "app:", "LOCKY_URL": "memory://"])
        #expect(configuration.prefix == "app:")
        let error = #expect(throws: LockError.self) {
            _ = try LockyConfiguration.fromEnvironment(["LOCKY_PREFIX": "{app}:"])
        }
        #expect(error?.code == .invalidArgument)
    }

    @Test func lockyConfigWithEveryKey() throws {
        let json = """
            {"url": "redis://10.0.0.5:6379", "prefix": "app:", "ttl": "10s", "lockerTTL": "2m",
             "retry": {"count": 3, "delay": "50ms", "jitter": 20}, "driftFactor": 0.02, "label": "worker-1"}
            """
        let configuration = try LockyConfiguration.fromEnvironment(["LOCKY_CONFIG": json])
        #expect(configuration.backend == .redis(try RedisConfiguration(url: "redis://10.0.0.5:6379")))
        #expect(configuration.prefix == "app:")
        #expect(configuration.leaseTTL == .seconds(10))
        #expect(configuration.lockerTTL == .seconds(120))
        #expect(configuration.retry == RetryPolicy(count: 3, delay: .milliseconds(50), jitter: .milliseconds(20)))
        #expect(configuration.driftFactor == 0.02)
        #expect(configuration.label == "worker-1")
        #expect(try LockyConfiguration(json: json) == configuration)
    }

    @Test(arguments: [
        ("\"500ms\"", Duration.milliseconds(500)),
        ("\"30s\"", .seconds(30)),
        ("\"2m\"", .seconds(120)),
        ("\"1.5s\"", .milliseconds(1500)),
        ("1500", .milliseconds(1500)),
        ("3.5", .microseconds(3500)),
        ("\"250\"", .milliseconds(250)),
    ])
    func durationsAsStringsAndNumbers(text: String, expected: Duration) throws {
        #expect(try LockyConfiguration(json: "{\"ttl\": \(text)}").leaseTTL == expected)
        #expect(try LockyConfiguration(json: "{\"leaseTTL\": \(text)}").leaseTTL == expected)
        let locker = try LockyConfiguration(json: "{\"lockerTTL\": \(text)}")
        #expect(locker.lockerTTL == expected)
    }

    @Test func lockerTTLNullMeansNoExpiry() throws {
        let configuration = try LockyConfiguration(json: #"{"lockerTTL": null}"#)
        #expect(configuration.lockerTTL == nil)
        #expect(try LockyConfiguration(json: "{}") == LockyConfiguration())
    }

    @Test func retryZeroDelayAndForeverAreAllowed() throws {
        let configuration = try LockyConfiguration(json: #"{"retry": {"count": -1, "delay": 0, "jitter": "0ms"}}"#)
        #expect(configuration.retry == RetryPolicy(count: -1, delay: .zero, jitter: .zero))
    }

    @Test func backendKey() throws {
        #expect(try LockyConfiguration(json: #"{"backend": "memory"}"#).backend == .memory)
        #expect(try LockyConfiguration(json: #"{"url": "memory://"}"#).backend == .memory)
        #expect(try LockyConfiguration(json: #"{"backend": "redis"}"#).backend == .redis(RedisConfiguration()))
        // Consistent pairs are fine, and the URL's details are kept.
        #expect(try LockyConfiguration(json: #"{"backend": "memory", "url": "memory://"}"#).backend == .memory)
        let both = try LockyConfiguration(json: #"{"backend": "redis", "url": "redis://10.0.0.5:7000"}"#)
        #expect(both.backend == .redis(try RedisConfiguration(url: "redis://10.0.0.5:7000")))
        let error = #expect(throws: LockError.self) { _ = try LockyConfiguration(json: #"{"backend": "mongo"}"#) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("backend") == true)
    }

    @Test func lockyURLOverridesTheJSONURL() throws {
        let configuration = try LockyConfiguration.fromEnvironment([
            "LOCKY_CONFIG": #"{"url": "redis://10.0.0.5:6379", "prefix": "json:"}"#,
            "LOCKY_URL": "memory://",
            "LOCKY_PREFIX": "env:",
        ])
        #expect(configuration.backend == .memory)
        #expect(configuration.prefix == "env:")
    }

    @Test(arguments: [
        (#"{"tll": "1s"}"#, "tll"),
        (#"{"retry": {"cnt": 3}}"#, "cnt"),
        (#"{"ttl": "soon"}"#, "ttl"),
        (#"{"ttl": -5}"#, "ttl"),
        (#"{"ttl": 0}"#, "ttl"),
        (#"{"ttl": "0ms"}"#, "ttl"),
        (#"{"ttl": "-1s"}"#, "ttl"),
        (#"{"ttl": true}"#, "ttl"),
        (#"{"lockerTTL": false}"#, "lockerTTL"),
        (#"{"retry": {"count": true}}"#, "retry.count"),
        (#"{"retry": {"delay": true}}"#, "retry.delay"),
        (#"{"driftFactor": false}"#, "driftFactor"),
        (#"{"ttl": "1s", "leaseTTL": "2s"}"#, "leaseTTL"),
        (#"{"backend": "memory", "url": "redis://10.0.0.5"}"#, "backend"),
        (#"{"backend": "redis", "url": "memory://"}"#, "backend"),
        (#"{"leaseTTL": []}"#, "leaseTTL"),
        (#"{"lockerTTL": "forever"}"#, "lockerTTL"),
        (#"{"lockerTTL": {}}"#, "lockerTTL"),
        (#"{"retry": {"count": "ten"}}"#, "retry.count"),
        (#"{"retry": {"count": 1.5}}"#, "retry.count"),
        (#"{"retry": {"delay": "later"}}"#, "retry.delay"),
        (#"{"retry": {"jitter": -1}}"#, "retry.jitter"),
        (#"{"retry": 5}"#, "retry"),
        (#"{"driftFactor": "small"}"#, "driftFactor"),
        (#"{"label": 7}"#, "label"),
        (#"{"prefix": 7}"#, "prefix"),
        (#"{"url": 6379}"#, "url"),
    ])
    func malformedJSONValuesNameTheKey(json: String, key: String) {
        let error = #expect(throws: LockError.self) { _ = try LockyConfiguration(json: json) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(key) == true, "\(error.map { "\($0)" } ?? "no error") does not name \(key)")
        let fromEnvironment = #expect(throws: LockError.self) {
            _ = try LockyConfiguration.fromEnvironment(["LOCKY_CONFIG": json])
        }
        #expect(fromEnvironment?.code == .invalidArgument)
    }

    /// A dictionary's order differs from process to process (and from one dictionary to the
    /// next): with two bad retry settings the error named either, so a user who fixed the one
    /// named could be told about the other only on some runs. Built anew each time, the
    /// dictionary's order varies within one process too.
    @Test func twoBadRetrySettingsAlwaysNameTheSameOne() {
        let json = #"{"retry": {"jitter": "x", "delay": "y", "count": "z", "zzz": 1, "aaa": 2}}"#
        var named = Set<String>()
        for _ in 0..<50 {
            let error = #expect(throws: LockError.self) { _ = try LockyConfiguration(json: json) }
            named.insert(error?.message ?? "no error")
        }
        #expect(named.count == 1, "\(named.sorted())")
        #expect(named.first?.contains("\"aaa\"") == true, "\(named.sorted())")
    }

    @Test(arguments: [
        #"{"driftFactor": 0.7}"#,
        #"{"driftFactor": -0.1}"#,
        #"{"prefix": "a{b"}"#,
        #"{"label": ""}"#,
        #"{"ttl": "31d"}"#,
        #"{"ttl": "800h"}"#,
        "not json",
        "[1, 2]",
        #""just a string""#,
        "{",
    ])
    func invalidConfigurationsAreRejected(json: String) {
        let error = #expect(throws: LockError.self) { _ = try LockyConfiguration(json: json) }
        #expect(error?.code == .invalidArgument)
    }

    /// Foundation's own description is "The data is not in the correct format.", whatever and
    /// wherever the mistake: a user with a long LOCKY_CONFIG could not tell where to look.
    @Test func invalidJSONSaysWhere() {
        let error = #expect(throws: LockError.self) {
            _ = try LockyConfiguration(json: #"{"url": "redis://h:6379" "ttl": "5s"}"#)
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("character 25") == true, "\(String(describing: error))")
    }

    @Test(arguments: [
        "http://example.com",
        "redis//missing-colon",
        "redis://host:99999",
        "redis://host:port",
        "redis://host:6379/notadb",
        "rediss://host?verify=sometimes",
        "unix://relative/path",
        "",
    ])
    func malformedURLsAreInvalidArguments(url: String) {
        let error = #expect(throws: LockError.self) { _ = try LockyConfiguration(url: url) }
        #expect(error?.code == .invalidArgument)
        let fromEnvironment = #expect(throws: LockError.self) {
            _ = try LockyConfiguration.fromEnvironment(["LOCKY_URL": url.isEmpty ? "redis://" : url])
        }
        #expect(fromEnvironment?.code == .invalidArgument)
    }

    /// A malformed url in LOCKY_CONFIG is named as such: with LOCKY_URL (or `--url`) set as well,
    /// "malformed URL: invalid port" alone did not say which of the two to fix.
    @Test(arguments: [
        #"{"url": "redis://h:notaport"}"#, #"{"url": "redis://:Hunter2@h1,redis://h2/x"}"#,
        #"{"url": ["redis://h1", "ftp://h2"]}"#, #"{"url": ""}"#,
    ])
    func malformedJSONURLIsNamed(json: String) {
        for environment in [["LOCKY_CONFIG": json], ["LOCKY_CONFIG": json, "LOCKY_URL": "redis://127.0.0.1:7000"]] {
            let error = #expect(throws: LockError.self) { _ = try LockyConfiguration.fromEnvironment(environment) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.hasPrefix("LOCKY_CONFIG.url: malformed URL") == true, "\(String(describing: error))")
            #expect(error?.description.contains("Hunter2") == false)
        }
    }

    /// A whole configuration, printed, reflected or dumped, hides every node's password, also
    /// percent-encoded ones and those of a Redlock list or of LOCKY_CONFIG's url array.
    @Test func printingALockyConfigurationHidesEveryPassword() throws {
        let configurations = [
            try LockyConfiguration(url: "redis://app:Hunter2%2DSecret@127.0.0.1:7000/1"),
            try LockyConfiguration(url: "redis://:Hunter2-Secret@h1,rediss://u:Hunter2%2DSecret@h2?ca=/ca.pem,redis://h3"),
            try LockyConfiguration(
                json: #"{"url": ["redis://:Hunter2-Secret@h1", "unix://u:Hunter2-Secret@/tmp/s", "redis://h3"]}"#),
        ]
        for configuration in configurations {
            var dumped = ""
            dump(configuration, to: &dumped)
            for text in ["\(configuration)", String(reflecting: configuration), dumped] {
                #expect(!text.contains("Hunter2"), "\(text)")
                #expect(text.contains("<hidden>"), "\(text)")
            }
        }
    }

    /// JSONSerialization accepts a comma before `}` or `]`; JSON (and jq, and every strict
    /// parser reading the same LOCKY_CONFIG) does not. Commas and brackets in strings are text.
    @Test func trailingCommasAreRejected() throws {
        for (json, offset) in [
            (#"{"ttl": "30s",}"#, 13), (#"{"retry": {"count": 1,}}"#, 21), (#"{"url": ["redis://a", "redis://b" , ] }"#, 34),
        ] {
            let error = #expect(throws: LockError.self, "\(json)") { _ = try LockyConfiguration(json: json) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("around character \(offset)") == true, "\(String(describing: error))")
        }
        let quoted = try LockyConfiguration(json: #"{"label": "a,}b,]", "prefix": "p\",]:", "ttl": "5s"}"#)
        #expect(quoted.label == "a,}b,]")
        #expect(quoted.prefix == #"p",]:"#)
    }

    @Test func malformedURLErrorsDoNotShowThePassword() {
        let error = #expect(throws: LockError.self) {
            _ = try LockyConfiguration(url: "redis://user:hunter2-secret@host:notaport")
        }
        #expect(error?.code == .invalidArgument)
        #expect(error.map { "\($0)" }?.contains("hunter2-secret") == false)
    }

    @Test func urlInitializer() throws {
        #expect(try LockyConfiguration(url: "memory://").backend == .memory)
        #expect(try LockyConfiguration(url: " memory:// ").backend == .memory)
        let configuration = try LockyConfiguration(url: "redis://127.0.0.1:7000")
        #expect(configuration.backend == .redis(try RedisConfiguration(url: "redis://127.0.0.1:7000")))
        #expect(configuration.prefix == "locky:")
    }

    @Test func validateRejectsBadValuesBuiltInCode() {
        var configurations: [LockyConfiguration] = []
        configurations.append(LockyConfiguration(backend: .memory, leaseTTL: .zero))
        configurations.append(LockyConfiguration(backend: .memory, lockerTTL: .seconds(-1)))
        configurations.append(LockyConfiguration(backend: .memory, retry: RetryPolicy(delay: .seconds(-1))))
        configurations.append(LockyConfiguration(backend: .memory, driftFactor: 0.5))
        configurations.append(LockyConfiguration(backend: .memory, label: ""))
        configurations.append(LockyConfiguration(backend: .redis(RedisConfiguration(address: .tcp(host: "", port: 1)))))
        for configuration in configurations {
            let error = #expect(throws: LockError.self) { try configuration.validate() }
            #expect(error?.code == .invalidArgument)
            #expect(throws: LockError.self) { _ = try LockClient(configuration: configuration) }
        }
    }

    @Test func memoryConfigurationBuildsAWorkingClient() async throws {
        let client = try LockClient(configuration: try LockyConfiguration.fromEnvironment(["LOCKY_URL": "memory://"]))
        #expect(client.backend.name == "memory")
        let lease = try await client.acquire("r", ttl: .seconds(1))
        #expect(try await client.release(lease) == .released)
        await client.close()
    }
}
