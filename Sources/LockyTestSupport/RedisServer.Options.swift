extension RedisServer {
    /// How to start a server.
    public struct Options: Sendable {
        /// The default user's password (`requirepass`); `nil` leaves the default user without a password.
        public var password: String?
        /// Extra ACL users; the default user stays as configured by ``password``.
        public var aclUsers: [ACLUser]
        /// When true the server speaks TLS only (`tls-port` on ``RedisServer/port``, plain `port 0`), with the
        /// certificates of ``TLSMaterial/shared()``. Client certificates are accepted but not required.
        public var tls: Bool
        /// When false nothing is written to disk (`save ""`, `appendonly no`), so a restart comes back empty. When true
        /// the server keeps an append-only file (fsync always) in its folder, so a restart — even after a kill — keeps
        /// the data.
        public var persistence: Bool
        /// Extra redis.conf lines appended last, e.g. `["notify-keyspace-events Ex", "hz 10"]`.
        public var extraConfiguration: [String]

        /// Creates options; the defaults give a plain, password-less, non-persistent server.
        public init(
            password: String? = nil,
            aclUsers: [ACLUser] = [],
            tls: Bool = false,
            persistence: Bool = false,
            extraConfiguration: [String] = []
        ) {
            self.password = password
            self.aclUsers = aclUsers
            self.tls = tls
            self.persistence = persistence
            self.extraConfiguration = extraConfiguration
        }
    }
}
