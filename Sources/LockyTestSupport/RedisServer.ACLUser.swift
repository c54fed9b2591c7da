extension RedisServer {
    /// An extra ACL user, written to redis.conf as `user <name> on ><password> <rules>`.
    public struct ACLUser: Sendable {
        /// The user name.
        public var name: String
        /// The user's password.
        public var password: String
        /// ACL rules, e.g. `"~locky:* &locky:* +@all"`.
        public var rules: String

        /// Creates a user with the given name, password and ACL rules.
        public init(name: String, password: String, rules: String) {
            self.name = name
            self.password = password
            self.rules = rules
        }
    }
}
