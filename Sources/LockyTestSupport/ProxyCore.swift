import NIOCore
import Synchronization

/// What a ``FaultProxy`` and its connections share: the faults in force and the live connections.
final class ProxyCore: Sendable {
    /// The server's port on 127.0.0.1.
    let upstreamPort: Int

    private struct State {
        var toServer = LinkConditions()
        var toClient = LinkConditions()
        var connections: [ObjectIdentifier: NIOLoopBound<ProxyConnection>] = [:]
        var accepted = 0
        var stopped = false
    }

    private let state = Mutex(State())

    init(upstreamPort: Int) {
        self.upstreamPort = upstreamPort
    }

    /// The faults in force on `flow`.
    func conditions(_ flow: ProxyFlow) -> LinkConditions {
        state.withLock { flow == .toServer ? $0.toServer : $0.toClient }
    }

    /// Changes the faults and tells every connection, so held reads resume when a stall ends.
    func update(_ change: (inout LinkConditions, ProxyFlow) -> Void) {
        let connections = state.withLock { state in
            change(&state.toServer, .toServer)
            change(&state.toClient, .toClient)
            return Array(state.connections.values)
        }
        for bound in connections {
            bound.eventLoop.execute { bound.value.conditionsChanged() }
        }
    }

    /// Records an accepted connection; false once the proxy is stopping (the caller then closes it).
    func register(_ connection: NIOLoopBound<ProxyConnection>, id: ObjectIdentifier) -> Bool {
        state.withLock { state in
            state.accepted += 1
            guard !state.stopped else { return false }
            state.connections[id] = connection
            return true
        }
    }

    /// Forgets a connection whose sockets are both closed.
    func unregister(_ id: ObjectIdentifier) {
        _ = state.withLock { $0.connections.removeValue(forKey: id) }
    }

    /// The live connections; with `stopping`, also refuses every later one.
    func connections(stopping: Bool = false) -> [NIOLoopBound<ProxyConnection>] {
        state.withLock { state in
            if stopping { state.stopped = true }
            return Array(state.connections.values)
        }
    }

    /// How many connections are open (half-open ones included).
    var connectionCount: Int { state.withLock { $0.connections.count } }

    /// How many connections were accepted since the start.
    var acceptedCount: Int { state.withLock { $0.accepted } }
}
