/// Where a Redis server listens.
public enum RedisAddress: Sendable, Hashable, CustomStringConvertible {
    /// A TCP host name or IP address and port.
    case tcp(host: String, port: Int)
    /// A Unix domain socket path.
    case unixSocket(path: String)

    /// `host:port` or `unix:path`.
    public var description: String {
        switch self {
        case .tcp(let host, let port):
            return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let path):
            return "unix:\(path)"
        }
    }
}
