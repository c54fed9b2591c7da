extension FaultProxy {
    /// Which way through the proxy a fault applies to.
    public enum Direction: Sendable, Hashable {
        /// Bytes the client sends to the server (commands).
        case clientToServer
        /// Bytes the server sends to the client (replies).
        case serverToClient
        /// Both ways.
        case both

        /// Whether bytes flowing `flow` are affected.
        func includes(_ flow: ProxyFlow) -> Bool {
            switch self {
            case .both: true
            case .clientToServer: flow == .toServer
            case .serverToClient: flow == .toClient
            }
        }
    }
}
