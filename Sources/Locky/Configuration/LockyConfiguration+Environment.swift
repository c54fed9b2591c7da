import Foundation
import LockyRedis

extension LockyConfiguration {
    /// Reads the configuration from the environment.
    ///
    /// - `LOCKY_CONFIG`: a JSON object (documented in the README), for example
    ///   `{"url": "redis://10.0.0.5:6379", "prefix": "app:", "ttl": "30s", "lockerTTL": null,
    ///   "retry": {"count": 10, "delay": "200ms", "jitter": "100ms"}, "driftFactor": 0.01,
    ///   "label": "worker-1"}`. Durations are strings such as `500ms`, `30s`, `2m`, or numbers
    ///   of milliseconds. `"backend": "memory"` (or `"url": "memory://"`) selects the in-memory backend.
    ///   For Redlock, `url` is a comma-separated list of node URLs (or an array of them), with the
    ///   optional keys `"nodeTimeout": "100ms"` and `"recreateMissingLocks": false`. Unknown keys
    ///   and keys given twice are rejected.
    /// - `LOCKY_URL`: `redis://…`, `rediss://…`, `unix://…`, `memory://`, or a comma-separated
    ///   list of Redis URLs (Redlock); overrides the JSON's url. The JSON's Redlock settings
    ///   apply to LOCKY_URL's nodes, so the JSON need not repeat them.
    /// - `LOCKY_PREFIX`: overrides the key prefix.
    ///
    /// Without any of them: a Redis server on `127.0.0.1:6379`.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(LockError) -> LockyConfiguration {
        var configuration = LockyConfiguration()
        let url = environment["LOCKY_URL"].flatMap { $0.trimmingSpacesAndNewlines.isEmpty ? nil : $0 }
        if let json = environment["LOCKY_CONFIG"], !json.trimmingSpacesAndNewlines.isEmpty {
            // With LOCKY_URL's nodes known, so the JSON's Redlock settings apply to them.
            configuration = try LockyConfiguration(json: json, url: url)
        } else if let url {
            try configuration.setBackend(url: url)
        }
        if let prefix = environment["LOCKY_PREFIX"], !prefix.isEmpty {
            configuration.prefix = prefix
        }
        try configuration.validate()
        return configuration
    }

    /// Points the configuration at `url` (as `LOCKY_URL` or the CLI's `--url` do). A Redlock
    /// list replacing a Redlock list keeps the Redlock settings (`nodeTimeout`,
    /// `recreateMissingLocks`): only the nodes change, so credentials can come from the URL and
    /// the settings from `LOCKY_CONFIG`.
    public mutating func setBackend(url: String) throws(LockError) {
        let new = try Self.backend(url: url)
        if case .redlock(var redlock) = new, case .redlock(let old) = backend {
            redlock.nodeTimeout = old.nodeTimeout
            redlock.recreateMissingLocks = old.recreateMissingLocks
            backend = .redlock(redlock)
        } else {
            backend = new
        }
    }

    /// Parses the JSON form of `LOCKY_CONFIG`; unknown keys, and a key given twice, are an
    /// error (a typo must not pass silently).
    ///
    /// `url` is a string (one server, `memory://`, or a comma-separated list of Redlock nodes)
    /// or an array of node URLs. `nodeTimeout` (one duration, for every node) and
    /// `recreateMissingLocks` need Redlock nodes.
    public init(json: String) throws(LockError) {
        try self.init(json: json, url: nil)
    }

    /// ``init(json:)`` with the nodes of `url` (`LOCKY_URL`, the CLI's `--url`) in place of the
    /// JSON's `url`: the JSON's Redlock settings then apply to them, so `nodeTimeout` can come
    /// from `LOCKY_CONFIG` and the node list (with its credentials) from the URL.
    init(json: String, url override: String?) throws(LockError) {
        self.init()
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
                throw LockError(.invalidArgument, "LOCKY_CONFIG must be a JSON object")
            }
            object = parsed
        } catch let error as LockError {
            throw error
        } catch {
            // The debug description says where ("Invalid value around character 12."); the
            // localized one only that something is wrong.
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw LockError(.invalidArgument, "LOCKY_CONFIG is not valid JSON: \(detail ?? error.localizedDescription)")
        }
        if let comma = JSONTrailingCommaFinder.firstTrailingComma(in: json) {
            throw LockError(
                .invalidArgument,
                "LOCKY_CONFIG is not valid JSON: a comma before a closing bracket around character \(comma) (JSON allows none)")
        }
        if let duplicate = JSONDuplicateKeyFinder.firstDuplicate(in: json) {
            let object = duplicate.path.isEmpty ? "LOCKY_CONFIG" : "LOCKY_CONFIG.\(duplicate.path)"
            throw LockError(
                .invalidArgument,
                "\(object) has the key \"\(duplicate.key)\" twice; give it once (JSON parsers would silently keep one)")
        }
        if object["ttl"] != nil, object["leaseTTL"] != nil {
            throw LockError(.invalidArgument, "LOCKY_CONFIG has both \"ttl\" and \"leaseTTL\"; give one")
        }
        // Sorted, so the outcome never depends on dictionary order ("backend" before "url").
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "url":
                // Named as the JSON's url: with LOCKY_URL or --url set too, a bare "malformed
                // URL" would not say which of them to fix.
                do throws(LockError) {
                    if let url = value as? String {
                        backend = try Self.backend(url: url)
                    } else if let urls = value as? [Any], !urls.isEmpty, urls.allSatisfy({ $0 is String }) {
                        backend = try Self.backend(urls: urls.compactMap { $0 as? String })
                    } else {
                        throw Self.typeError(key, "a string, or an array of node URLs (Redlock)")
                    }
                } catch {
                    if error.message.hasPrefix("LOCKY_CONFIG.") { throw error }
                    throw LockError(.invalidArgument, "LOCKY_CONFIG.url: \(error.message)")
                }
            case "backend":
                guard let name = value as? String else { throw Self.typeError(key, "a string") }
                switch name {
                case "memory": backend = .memory
                case "redis": if case .memory = backend { backend = .redis(RedisConfiguration()) }
                default: throw LockError(.invalidArgument, "LOCKY_CONFIG.backend must be \"redis\" or \"memory\"")
                }
            case "prefix":
                guard let prefix = value as? String else { throw Self.typeError(key, "a string") }
                self.prefix = prefix
            case "ttl", "leaseTTL":
                leaseTTL = try Self.duration(value, key: key)
            case "lockerTTL":
                lockerTTL = value is NSNull ? nil : try Self.duration(value, key: key)
            case "driftFactor":
                guard !Self.isBoolean(value), let number = value as? Double else { throw Self.typeError(key, "a number") }
                driftFactor = number
            case "nodeTimeout", "recreateMissingLocks":
                // Redlock settings; applied below, once the node list is known.
                break
            case "label":
                guard let label = value as? String else { throw Self.typeError(key, "a string") }
                self.label = label
            case "retry":
                guard let retryObject = value as? [String: Any] else { throw Self.typeError(key, "an object") }
                // Sorted like the top level: with two bad keys, the same one is named every time.
                for (retryKey, retryValue) in retryObject.sorted(by: { $0.key < $1.key }) {
                    switch retryKey {
                    case "count":
                        guard !Self.isBoolean(retryValue), let count = retryValue as? Int else {
                            throw Self.typeError("retry.count", "an integer")
                        }
                        retry.count = count
                    case "delay": retry.delay = try Self.duration(retryValue, key: "retry.delay", allowZero: true)
                    case "jitter": retry.jitter = try Self.duration(retryValue, key: "retry.jitter", allowZero: true)
                    default: throw LockError(.invalidArgument, "LOCKY_CONFIG.retry has an unknown key \"\(retryKey)\"")
                    }
                }
            default:
                throw LockError(.invalidArgument, "LOCKY_CONFIG has an unknown key \"\(key)\"")
            }
        }
        if let name = object["backend"] as? String, object["url"] != nil, (name == "memory") != (backend == .memory) {
            throw LockError(.invalidArgument, "LOCKY_CONFIG.backend \"\(name)\" contradicts LOCKY_CONFIG.url")
        }
        // Settings that match the JSON's own Redlock url are dropped, as before, when the
        // override names one server; given with no Redlock url anywhere, they are a mistake.
        let settingsMatchTheJSON: Bool
        if case .redlock = backend { settingsMatchTheJSON = true } else { settingsMatchTheJSON = false }
        if let override {
            backend = try Self.backend(url: override)
        }
        if object["nodeTimeout"] != nil || object["recreateMissingLocks"] != nil {
            guard case .redlock(var redlock) = backend else {
                if settingsMatchTheJSON {
                    try validate()
                    return
                }
                let given = ["nodeTimeout", "recreateMissingLocks"].filter { object[$0] != nil }
                throw LockError(
                    .invalidArgument,
                    "LOCKY_CONFIG.\(given.joined(separator: " and .")) \(given.count == 1 ? "applies" : "apply") to Redlock only: give the nodes as a comma-separated list of URLs (or an array) in url, or in LOCKY_URL"
                )
            }
            if let value = object["nodeTimeout"] {
                // One duration for every node; a list would be a natural guess for "per node".
                if value is [Any] { throw Self.typeError("nodeTimeout", "one duration for every node, such as \"100ms\"") }
                redlock.nodeTimeout = try Self.duration(value, key: "nodeTimeout")
            }
            if let value = object["recreateMissingLocks"] {
                guard Self.isBoolean(value), let flag = value as? Bool else {
                    throw Self.typeError("recreateMissingLocks", "true or false")
                }
                redlock.recreateMissingLocks = flag
            }
            backend = .redlock(redlock)
        }
        try validate()
    }

    private static func duration(_ value: Any, key: String, allowZero: Bool = false) throws(LockError) -> Duration {
        let parsed: Duration?
        if let text = value as? String {
            parsed = DurationParser.parse(text)
        } else if !isBoolean(value), let number = value as? Double, number.isFinite, number >= 0, number < 9e12 {
            // Below 9e12 ms (~285 years) the nanoseconds fit in Int64; above, Int64(_:) would trap.
            parsed = .nanoseconds(Int64(number * 1e6))
        } else {
            parsed = nil
        }
        guard let parsed, allowZero || parsed > .zero else {
            throw LockError(
                .invalidArgument, "LOCKY_CONFIG.\(key) must be a duration such as \"500ms\", \"30s\" or a number of ms")
        }
        return parsed
    }

    /// JSON `true`/`false` arrive as NSNumber and would otherwise pass as 1 and 0.
    private static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return type(of: number) == type(of: NSNumber(value: true))
    }

    private static func typeError(_ key: String, _ expected: String) -> LockError {
        LockError(.invalidArgument, "LOCKY_CONFIG.\(key) must be \(expected)")
    }
}
