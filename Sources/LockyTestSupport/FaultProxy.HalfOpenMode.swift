extension FaultProxy {
    /// How ``FaultProxy/halfOpen(_:)`` leaves the connections it freezes.
    public enum HalfOpenMode: Sendable, Hashable {
        /// Both sockets stay open and nothing more is read or forwarded either way: a peer that vanished without a
        /// FIN or RST (a pulled cable, a frozen VM). Each side learns of it only from its own deadlines.
        case frozen
        /// Frozen, and the client receives a FIN (its reads end) while the server's socket stays open and silent.
        case finToClient
        /// Frozen, and the server receives a FIN while the client's socket stays open and silent: the client still
        /// believes it is connected.
        case finToServer
    }
}
