import LockyRESP
import Testing

@testable import LockyRedis

/// `RedisConfiguration(url:)`: every supported form, and a named part for every malformed one.
@Suite struct ConfigurationURLTests {
    @Test func plainURLUsesDefaults() throws {
        let configuration = try RedisConfiguration(url: "redis://127.0.0.1")
        #expect(configuration.address == .tcp(host: "127.0.0.1", port: 6379))
        #expect(configuration.database == 0)
        #expect(configuration.tls == nil)
        #expect(configuration.username == nil)
        #expect(configuration.password == nil)
        #expect(configuration.clientName == nil)
        #expect(configuration.preferRESP3)
        #expect(configuration == RedisConfiguration())
    }

    @Test func hostPortAndDatabase() throws {
        let configuration = try RedisConfiguration(url: "REDIS://cache.example-1.internal:6380/3")
        #expect(configuration.address == .tcp(host: "cache.example-1.internal", port: 6380))
        #expect(configuration.database == 3)
        #expect(configuration.address.description == "cache.example-1.internal:6380")
    }

    @Test func ipv6Address() throws {
        let withPort = try RedisConfiguration(url: "redis://[::1]:6380/1")
        #expect(withPort.address == .tcp(host: "::1", port: 6380))
        #expect(withPort.address.description == "[::1]:6380")
        #expect(withPort.database == 1)
        let withoutPort = try RedisConfiguration(url: "redis://[fe80::1:2]")
        #expect(withoutPort.address == .tcp(host: "fe80::1:2", port: 6379))
    }

    @Test func userAndPasswordArePercentDecoded() throws {
        let configuration = try RedisConfiguration(url: "redis://app%2Duser:p%40ss%3Aw%2Frd%3F%25@127.0.0.1:7000")
        #expect(configuration.username == "app-user")
        #expect(configuration.password == "p@ss:w/rd?%")
        #expect(configuration.address == .tcp(host: "127.0.0.1", port: 7000))
        // An unescaped '@' in the password still works: the last '@' ends the credentials.
        let lastAt = try RedisConfiguration(url: "redis://user:a@b@127.0.0.1")
        #expect(lastAt.password == "a@b")
        #expect(lastAt.address == .tcp(host: "127.0.0.1", port: 6379))
        // Non-ASCII passwords survive the UTF-8 decoding.
        #expect(try RedisConfiguration(url: "redis://:%C3%A9t%C3%A9@h").password == "été")
    }

    @Test func passwordsWithUnescapedSeparatorsParse() throws {
        for password in ["S3cr/et", "pa?ss", "a,b", "x/y?z,w@v", "q=1&r"] {
            let configuration = try RedisConfiguration(url: "redis://user:\(password)@h:7000/2?name=n")
            #expect(configuration.password == password)
            #expect(configuration.username == "user")
            #expect(configuration.address == .tcp(host: "h", port: 7000))
            #expect(configuration.database == 2)
            #expect(configuration.clientName == "n")
        }
        // An `@` in the query is not taken for the end of the credentials.
        let query = try RedisConfiguration(url: "rediss://:pw@h?ca=/certs/a@b.pem")
        #expect(query.password == "pw")
        #expect(query.tls?.caCertificateFile == "/certs/a@b.pem")
    }

    @Test func unbracketedIPv6IsRejected() {
        let error = #expect(throws: RedisConfigurationError.self) { try RedisConfiguration(url: "redis://fe80::1") }
        #expect(error?.part == "host")
    }

    @Test func passwordOnlyForms() throws {
        let bare = try RedisConfiguration(url: "redis://s3cret@127.0.0.1")
        #expect(bare.username == nil)
        #expect(bare.password == "s3cret")
        let withColon = try RedisConfiguration(url: "redis://:s3cret@127.0.0.1")
        #expect(withColon.username == nil)
        #expect(withColon.password == "s3cret")
        let emptyUser = try RedisConfiguration(url: "redis://:@127.0.0.1")
        #expect(emptyUser.password == "")
    }

    @Test func tlsOptions() throws {
        let configuration = try RedisConfiguration(
            url: "rediss://redis.local:6390?ca=/etc/ca.pem&cert=/etc/client.pem&key=/etc/client.key&verify=nohostname"
                + "&sni=other.local"
        )
        #expect(configuration.address == .tcp(host: "redis.local", port: 6390))
        let tls = try #require(configuration.tls)
        #expect(tls.caCertificateFile == "/etc/ca.pem")
        #expect(tls.certificateFile == "/etc/client.pem")
        #expect(tls.keyFile == "/etc/client.key")
        #expect(tls.verification == .noHostname)
        #expect(tls.serverName == "other.local")

        #expect(try RedisConfiguration(url: "rediss://h").tls == RedisTLSConfiguration())
        #expect(try RedisConfiguration(url: "rediss://h").tls?.verification == .full)
        #expect(try RedisConfiguration(url: "rediss://h?verify=full").tls?.verification == .full)
        #expect(try RedisConfiguration(url: "rediss://h?verify=none").tls?.verification == .insecureNoVerification)
        #expect(try RedisConfiguration(url: "rediss://h?insecure=true").tls?.verification == .insecureNoVerification)
        #expect(try RedisConfiguration(url: "rediss://h?insecure=1").tls?.verification == .insecureNoVerification)
        #expect(try RedisConfiguration(url: "rediss://h?insecure").tls?.verification == .insecureNoVerification)
        #expect(try RedisConfiguration(url: "rediss://h?ca=/a%20b/ca.pem").tls?.caCertificateFile == "/a b/ca.pem")
    }

    @Test func unixSocket() throws {
        let configuration = try RedisConfiguration(url: "unix:///var/run/redis/redis.sock?db=2&name=worker")
        #expect(configuration.address == .unixSocket(path: "/var/run/redis/redis.sock"))
        #expect(configuration.address.description == "unix:/var/run/redis/redis.sock")
        #expect(configuration.database == 2)
        #expect(configuration.clientName == "worker")
        #expect(configuration.tls == nil)
        let withCredentials = try RedisConfiguration(url: "unix://app:p%40ss@/run/redis@main/redis.sock?db=1")
        #expect(withCredentials.username == "app")
        #expect(withCredentials.password == "p@ss")
        #expect(withCredentials.address == .unixSocket(path: "/run/redis@main/redis.sock"))
        #expect(withCredentials.database == 1)
        // An `@` in the path alone is part of the path.
        let atInPath = try RedisConfiguration(url: "unix:///run/redis@main/redis.sock")
        #expect(atInPath.address == .unixSocket(path: "/run/redis@main/redis.sock"))
        #expect(atInPath.password == nil)
    }

    @Test func queryOptions() throws {
        let configuration = try RedisConfiguration(
            url: "redis://h/1?connect_timeout=500ms&command_timeout=2s&keepalive=1500&name=worker-7&protocol=2"
        )
        #expect(configuration.connectTimeout == .milliseconds(500))
        #expect(configuration.commandTimeout == .seconds(2))
        #expect(configuration.keepAliveInterval == .milliseconds(1500))
        #expect(configuration.clientName == "worker-7")
        #expect(!configuration.preferRESP3)
        #expect(configuration.database == 1)

        let aliases = try RedisConfiguration(
            url: "redis://h?connectTimeout=1.5s&timeout=250&keep_alive=off&database=4&protocol=3")
        #expect(aliases.connectTimeout == .milliseconds(1500))
        #expect(aliases.commandTimeout == .milliseconds(250))
        #expect(aliases.keepAliveInterval == nil)
        #expect(aliases.database == 4)
        #expect(aliases.preferRESP3)

        #expect(try RedisConfiguration(url: "redis://h?keepalive=0").keepAliveInterval == nil)
        #expect(try RedisConfiguration(url: "redis://h?commandTimeout=1m").commandTimeout == .seconds(60))
        // A trailing '?' or '&' is harmless.
        #expect(try RedisConfiguration(url: "redis://h?").address == .tcp(host: "h", port: 6379))
        #expect(try RedisConfiguration(url: "redis://h?name=a&").clientName == "a")
    }

    // MARK: Malformed URLs

    static let malformed: [(url: String, part: String)] = [
        ("127.0.0.1:6379", "scheme"),
        ("redis:/127.0.0.1", "scheme"),
        ("", "scheme"),
        ("http://127.0.0.1", "scheme"),
        ("redis://", "host"),
        ("redis://:6379", "host"),
        ("redis://bad host", "host"),
        ("redis://bad%20host", "host"),
        ("redis://[::1", "host"),
        ("redis://[::1]6379", "port"),
        ("redis://h:", "port"),
        ("redis://h:abc", "port"),
        ("redis://h:0", "port"),
        ("redis://h:65536", "port"),
        ("redis://h:-1", "port"),
        ("redis://h/abc", "database"),
        ("redis://h/-1", "database"),
        ("redis://h/1/2", "database"),
        // Digits only: `Int` alone takes a sign.
        ("redis://h:+80", "port"),
        ("redis://h/+1", "database"),
        ("redis://h?db=+2", "query parameter 'db'"),
        // One option, one value: twice (under any spelling), or a database in path and query.
        ("redis://h?db=1&db=2", "query parameter 'db'"),
        ("redis://h/1?database=2", "query parameter 'database'"),
        ("unix:///s.sock?db=1&database=1", "query parameter 'database'"),
        ("redis://h?timeout=1s&command_timeout=2s", "query parameter 'command_timeout'"),
        ("rediss://h?verify=full&insecure=1", "query parameter 'insecure'"),
        ("unix://", "path"),
        ("unix://relative.sock", "path"),
        ("redis://h?x=1", "query parameter 'x'"),
        ("redis://h?x", "query parameter 'x'"),
        ("redis://h?connect_timeout=soon", "query parameter 'connect_timeout'"),
        ("redis://h?command_timeout=0", "query parameter 'command_timeout'"),
        ("redis://h?command_timeout=-5ms", "query parameter 'command_timeout'"),
        ("redis://h?keepalive=5x", "query parameter 'keepalive'"),
        ("redis://h?db=two", "query parameter 'db'"),
        ("redis://h?db=-1", "query parameter 'db'"),
        ("redis://h?protocol=4", "query parameter 'protocol'"),
        ("redis://h?name=%zz", "query parameter 'name'"),
        ("redis://h?name=has%20space", "client name"),
        ("redis://h?name=", "client name"),
        ("redis://h?name=caf%C3%A9", "client name"),
        ("redis://h?ca=/ca.pem", "query parameter 'ca'"),
        ("redis://h?cert=/c.pem", "query parameter 'cert'"),
        ("redis://h?key=/k.pem", "query parameter 'key'"),
        ("redis://h?sni=x", "query parameter 'sni'"),
        ("redis://h?verify=none", "query parameter 'verify'"),
        ("redis://h?insecure=true", "query parameter 'insecure'"),
        ("rediss://h?verify=sometimes", "query parameter 'verify'"),
        ("rediss://h?insecure=no", "query parameter 'insecure'"),
        ("rediss://h?cert=/c.pem", "query parameter 'cert'"),
        ("rediss://h?key=/k.pem", "query parameter 'cert'"),
        ("rediss://h?ca=", "ca"),
        ("rediss://h?cert=&key=/k.pem", "cert"),
        ("rediss://h?cert=/c.pem&key=", "key"),
        ("rediss://h?sni=", "sni"),
        ("rediss://h?sni=10.0.0.5", "sni"),
        ("rediss://h?sni=%5B%3A%3A1%5D", "sni"),
        ("redis://us%zzer:pw@h", "user"),
        ("redis://%C3%28:pw@h", "user"),
    ]

    @Test(arguments: malformed)
    func malformedPartIsNamed(url: String, part: String) {
        let error = #expect(throws: RedisConfigurationError.self, "\(url)") {
            try RedisConfiguration(url: url)
        }
        #expect(error?.part == part, "\(url): \(String(describing: error))")
        #expect(error?.description.hasPrefix("invalid \(part): ") == true)
    }

    static let secret = "Hunter2-Secret"

    /// Every malformed part of a URL carrying a password; the error must not repeat the password.
    static let malformedWithPassword: [(url: String, part: String)] = [
        ("redis://user:\(secret)@h:99999", "port"),
        ("redis://user:\(secret)@h:port", "port"),
        ("redis://user:\(secret)@h/x", "database"),
        ("redis://user:\(secret)@bad host", "host"),
        ("redis://user:\(secret)@", "host"),
        ("redis://user:\(secret)@h?nope=1", "query parameter 'nope'"),
        ("redis://user:\(secret)@h?command_timeout=never", "query parameter 'command_timeout'"),
        ("redis://user:\(secret)@h?ca=/ca.pem", "query parameter 'ca'"),
        ("redis://user:\(secret)%zz@h", "password"),
        ("redis://user:\(secret)%@h", "password"),
        ("redis://\(secret)%4@h", "password"),
        ("redis://user:\(secret)%FF@h", "password"),
        ("rediss://:\(secret)@h?verify=maybe", "query parameter 'verify'"),
        ("ftp://user:\(secret)@h", "scheme"),
        // Unescaped `/`, `?` and `,` inside the password: the password ends at the last `@`.
        ("redis://user:Hunter2/\(secret)@h:port", "port"),
        ("redis://user:Hunter2?\(secret)@h/x", "database"),
        ("redis://user:Hunter2,\(secret)@h?nope=1", "query parameter 'nope'"),
        ("redis://\(secret)/Hunter2@fe80::1", "host"),
        // No `@host` at all: the password reads as a port.
        ("redis://user:\(secret)", "port"),
        ("redis://user:Hunter2-\(secret)/0", "port"),
    ]

    @Test(arguments: malformedWithPassword)
    func errorNeverContainsThePassword(url: String, part: String) {
        let error = #expect(throws: RedisConfigurationError.self, "\(url)") {
            try RedisConfiguration(url: url)
        }
        #expect(error?.part == part)
        let text = error.map { "\($0) \($0.part) \($0.message) \(String(reflecting: $0))" } ?? ""
        #expect(!text.contains(Self.secret), "\(text)")
        #expect(!text.contains("Hunter2"), "\(text)")
    }

    /// Printed, dumped or mirrored, a configuration never shows its password.
    @Test func printingAConfigurationHidesThePassword() throws {
        let configuration = try RedisConfiguration(url: "redis://user:\(Self.secret)@127.0.0.1:6380/2")
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in ["\(configuration)", String(reflecting: configuration), dumped] {
            #expect(!text.contains(Self.secret), "\(text)")
            #expect(text.contains("<hidden>") && text.contains("6380"), "\(text)")
        }
    }

    /// Values that would trap later (at the first reconnect, the first reply) are refused now.
    @Test func validateRejectsReconnectAndLimitValuesThatWouldTrapLater() {
        var configuration = RedisConfiguration()
        configuration.reconnect.jitter = .nan
        #expect(throws: RedisConfigurationError.self) { try configuration.validate() }
        configuration = RedisConfiguration()
        configuration.reconnect.maximumDelay = .seconds(Int64.max)
        #expect(throws: RedisConfigurationError.self) { try configuration.validate() }
        configuration = RedisConfiguration()
        configuration.reconnect.initialDelay = .seconds(-1)
        #expect(throws: RedisConfigurationError.self) { try configuration.validate() }
        configuration = RedisConfiguration()
        configuration.limits.maximumLineLength = -2
        #expect(throws: RedisConfigurationError.self) { try configuration.validate() }
        #expect(throws: RedisConfigurationError.self) { try RedisClient(configuration: configuration) }
        configuration = RedisConfiguration()
        #expect((try? configuration.validate()) != nil)
    }

    @Test func validateRejectsBadValuesBuiltInCode() {
        var configuration = RedisConfiguration()
        configuration.commandTimeout = .zero
        #expect(throws: RedisConfigurationError(part: "command_timeout", message: "must be positive")) {
            try configuration.validate()
        }
        configuration = RedisConfiguration(database: -1)
        #expect((try? configuration.validate()) == nil)
        configuration = RedisConfiguration(address: .tcp(host: "", port: 1))
        #expect((try? configuration.validate()) == nil)
        configuration = RedisConfiguration(address: .tcp(host: "h", port: 70_000))
        #expect((try? configuration.validate()) == nil)
        configuration = RedisConfiguration(username: "")
        #expect((try? configuration.validate()) == nil)
        configuration = RedisConfiguration(keepAliveInterval: .zero)
        #expect((try? configuration.validate()) == nil)
        #expect(throws: RedisConfigurationError.self) {
            try RedisClient(configuration: RedisConfiguration(clientName: "two words"))
        }
        // TLS settings built in code: the same checks as the URL's options, by the option's name.
        for (tls, part) in [
            (RedisTLSConfiguration(keyFile: "/k.pem"), "cert"), (RedisTLSConfiguration(caCertificateFile: ""), "ca"),
            (RedisTLSConfiguration(serverName: "10.0.0.5"), "sni"), (RedisTLSConfiguration(serverName: ""), "sni"),
        ] {
            do {
                try RedisConfiguration(tls: tls).validate()
                Issue.record("accepted: \(tls)")
            } catch {
                #expect(error.part == part, "\(error)")
            }
        }
    }
}
