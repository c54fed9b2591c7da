extension ScriptedServer.Reply {
    /// What a ``ScriptedServer`` does with a connection after writing a reply.
    public enum Then: Sendable, Hashable {
        /// Goes on answering the next request.
        case keepServing
        /// Closes the connection (a FIN).
        case close
        /// Resets the connection (SO_LINGER 0, then close: an RST).
        case reset
        /// Keeps the connection open but reads and discards everything from now on, answering nothing.
        case silence
    }
}
