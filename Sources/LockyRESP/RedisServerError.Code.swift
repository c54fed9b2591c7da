extension RedisServerError {
    /// An error code: the upper-case first word of an error reply. Open-ended, as modules add their own.
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        /// The code as sent, e.g. `NOSCRIPT`.
        public let rawValue: String

        /// Creates a code from its upper-case word.
        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        /// `ERR`: a generic error, also used for replies without a code.
        public static let err = Code(rawValue: "ERR")
        /// `NOSCRIPT`: EVALSHA named a script the server does not have cached.
        public static let noscript = Code(rawValue: "NOSCRIPT")
        /// `WRONGTYPE`: the key holds another type of value.
        public static let wrongtype = Code(rawValue: "WRONGTYPE")
        /// `NOAUTH`: authentication is required.
        public static let noauth = Code(rawValue: "NOAUTH")
        /// `WRONGPASS`: invalid user name or password.
        public static let wrongpass = Code(rawValue: "WRONGPASS")
        /// `NOPERM`: the user lacks permission for the command or key.
        public static let noperm = Code(rawValue: "NOPERM")
        /// `BUSY`: a script or function is running too long.
        public static let busy = Code(rawValue: "BUSY")
        /// `BUSYKEY`: the target key already exists.
        public static let busykey = Code(rawValue: "BUSYKEY")
        /// `LOADING`: the server is loading its dataset.
        public static let loading = Code(rawValue: "LOADING")
        /// `READONLY`: writes are not allowed on a replica.
        public static let readonly = Code(rawValue: "READONLY")
        /// `MOVED`: the slot lives on another cluster node (see ``RedisServerError/redirection``).
        public static let moved = Code(rawValue: "MOVED")
        /// `ASK`: retry once at another cluster node (see ``RedisServerError/redirection``).
        public static let ask = Code(rawValue: "ASK")
        /// `CROSSSLOT`: the keys of the command hash to different slots.
        public static let crossslot = Code(rawValue: "CROSSSLOT")
        /// `TRYAGAIN`: the slot is being migrated; retry later.
        public static let tryagain = Code(rawValue: "TRYAGAIN")
        /// `CLUSTERDOWN`: the cluster is down.
        public static let clusterdown = Code(rawValue: "CLUSTERDOWN")
        /// `MASTERDOWN`: the replica lost its link to the master.
        public static let masterdown = Code(rawValue: "MASTERDOWN")
        /// `NOPROTO`: the requested protocol version is not supported.
        public static let noproto = Code(rawValue: "NOPROTO")
        /// `OOM`: the command would exceed `maxmemory`.
        public static let oom = Code(rawValue: "OOM")
        /// `EXECABORT`: a transaction was discarded because of earlier errors.
        public static let execabort = Code(rawValue: "EXECABORT")
        /// `UNBLOCKED`: a blocking command was unblocked by another client.
        public static let unblocked = Code(rawValue: "UNBLOCKED")
        /// `NOGOODSLAVE`: no replica is suitable for failover.
        public static let nogoodslave = Code(rawValue: "NOGOODSLAVE")
        /// `NOREPLICAS`: not enough good replicas to accept writes.
        public static let noreplicas = Code(rawValue: "NOREPLICAS")
        /// `MISCONF`: persistence failed, so writes are refused.
        public static let misconf = Code(rawValue: "MISCONF")

        /// The code as sent, e.g. `NOSCRIPT`.
        public var description: String { rawValue }
    }
}
