/// One of the two byte streams of a proxied connection.
enum ProxyFlow: Sendable, Hashable, CaseIterable {
    /// From the client to the server.
    case toServer
    /// From the server to the client.
    case toClient
}
