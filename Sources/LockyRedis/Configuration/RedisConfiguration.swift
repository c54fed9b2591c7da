import LockyRESP

/// Everything needed to connect to one Redis server.
///
/// Build it in code or from a URL with ``init(url:)``.
public struct RedisConfiguration: Sendable, Hashable {
    /// Where the server listens.
    public var address: RedisAddress
    /// ACL user name; nil authenticates as the `default` user when a password is set.
    public var username: String?
    /// Password for `AUTH`/`HELLO`; never logged.
    public var password: String?
    /// Logical database selected after connecting.
    public var database: Int
    /// Name set with `CLIENT SETNAME` (visible in `CLIENT LIST`); no spaces.
    public var clientName: String?
    /// TLS settings; nil means plain TCP.
    public var tls: RedisTLSConfiguration?
    /// Limit for TCP connect, TLS and the handshake together.
    public var connectTimeout: Duration
    /// Deadline for each command's reply. A server that stays silent past it is considered dead:
    /// the command fails with a timeout and the connection is retired. The pub/sub connection is
    /// retired too when a subscription waits for its confirmation while the server sends
    /// nothing for this long; its subscriptions are restored on a new one, with a gap.
    public var commandTimeout: Duration
    /// After this much idle time a `PING` checks that the server is still there; nil disables it.
    public var keepAliveInterval: Duration?
    /// Backoff between reconnection attempts.
    public var reconnect: RedisReconnectPolicy
    /// Speak RESP3 (`HELLO 3`) when the server supports it; RESP2 otherwise.
    public var preferRESP3: Bool
    /// Limits on what the server may send (nesting depth, bulk length, element count).
    public var limits: RESPLimits
    /// How long a channel nobody listens to any more stays subscribed on the pub/sub connection:
    /// a task that subscribes to it again within this time (a worker that waits for a lock in a
    /// loop) is confirmed at once, without a `SUBSCRIBE` round trip. Zero unsubscribes at once.
    public var subscriptionLinger: Duration

    /// Creates a configuration with production defaults.
    public init(
        address: RedisAddress = .tcp(host: "127.0.0.1", port: 6379),
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        clientName: String? = nil,
        tls: RedisTLSConfiguration? = nil,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(5),
        keepAliveInterval: Duration? = .seconds(30),
        reconnect: RedisReconnectPolicy = RedisReconnectPolicy(),
        preferRESP3: Bool = true,
        limits: RESPLimits = .default,
        subscriptionLinger: Duration = .seconds(2)
    ) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
        self.clientName = clientName
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.keepAliveInterval = keepAliveInterval
        self.reconnect = reconnect
        self.preferRESP3 = preferRESP3
        self.limits = limits
        self.subscriptionLinger = subscriptionLinger
    }

    /// Checks values that the server would reject or that would make the client misbehave.
    public func validate() throws(RedisConfigurationError) {
        switch address {
        case .tcp(let host, let port):
            if host.isEmpty { throw RedisConfigurationError(part: "host", message: "is empty") }
            if !(1...65535).contains(port) {
                throw RedisConfigurationError(part: "port", message: "\(port) is not in 1...65535")
            }
        case .unixSocket(let path):
            if path.isEmpty { throw RedisConfigurationError(part: "path", message: "is empty") }
        }
        if database < 0 { throw RedisConfigurationError(part: "database", message: "\(database) is negative") }
        // Redis accepts only printable ASCII without spaces (`!` to `~`) in a client name.
        if let clientName, clientName.isEmpty || !clientName.utf8.allSatisfy({ (33...126).contains($0) }) {
            throw RedisConfigurationError(
                part: "client name", message: "must be non-empty printable ASCII without spaces (Redis refuses others)")
        }
        if let username, username.isEmpty {
            throw RedisConfigurationError(part: "user", message: "is empty")
        }
        if connectTimeout <= .zero { throw RedisConfigurationError(part: "connect_timeout", message: "must be positive") }
        if commandTimeout <= .zero { throw RedisConfigurationError(part: "command_timeout", message: "must be positive") }
        if let keepAliveInterval, keepAliveInterval <= .zero {
            throw RedisConfigurationError(part: "keepalive", message: "must be positive")
        }
        if let tls { try Self.validate(tls) }
        if subscriptionLinger < .zero {
            throw RedisConfigurationError(part: "subscription linger", message: "is negative")
        }
        // Checked here, not where used: a NaN jitter or a delay beyond Int64 nanoseconds would
        // trap at the first reconnect, long after the configuration was accepted.
        let day = Duration.seconds(86_400)
        for delay in [reconnect.initialDelay, reconnect.maximumDelay] where delay < .zero || delay > day {
            throw RedisConfigurationError(part: "reconnect", message: "delays must be 0 to 1 day")
        }
        if !(0...1).contains(reconnect.jitter) {
            throw RedisConfigurationError(part: "reconnect", message: "jitter must be 0 to 1")
        }
        if limits.maximumDepth < 1 || limits.maximumLineLength < 1 || limits.maximumFrameLength < 1
            || limits.maximumBulkLength < 0 || limits.maximumAggregateCount < 0
        {
            throw RedisConfigurationError(
                part: "limits", message: "depth, line and frame lengths must be positive; bulk length and count not negative")
        }
    }

    /// TLS settings that could only fail later, at every connect (and then read as "server
    /// unreachable"), or that would silently be ignored: refused now, by the URL option's name.
    private static func validate(_ tls: RedisTLSConfiguration) throws(RedisConfigurationError) {
        for (part, file) in [("ca", tls.caCertificateFile), ("cert", tls.certificateFile), ("key", tls.keyFile)] {
            if file?.isEmpty == true { throw RedisConfigurationError(part: part, message: "is empty; give a PEM file's path") }
        }
        // A certificate without its key (or the reverse) would be left out of the handshake.
        if (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw RedisConfigurationError(part: "cert", message: "cert and key must be given together")
        }
        if let name = tls.serverName {
            // NIOSSL refuses these names at every connect; SNI carries host names only.
            guard (1...255).contains(name.utf8.count), !name.utf8.contains(0) else {
                throw RedisConfigurationError(part: "sni", message: "must be a host name of 1 to 255 bytes")
            }
            guard !RedisConnector.isIPAddress(name) else {
                throw RedisConfigurationError(
                    part: "sni", message: "must be a host name, not an IP address (SNI cannot carry one)")
            }
        }
    }
}
