/// One of the two sockets of a proxied connection.
enum ProxySide: Sendable, Hashable {
    /// The socket accepted from the client.
    case client
    /// The socket the proxy opened to the server.
    case server

    /// The flow whose bytes are read from this side.
    var outgoingFlow: ProxyFlow { self == .client ? .toServer : .toClient }

    /// The other socket.
    var opposite: ProxySide { self == .client ? .server : .client }
}
