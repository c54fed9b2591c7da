import NIOCore
import Synchronization

/// The shared, lock-protected record of a ``ScriptedServer``: its connections and the requests they sent.
final class ScriptedServerLog: Sendable {
    private struct State {
        var accepted = 0
        var open: [ObjectIdentifier: any Channel] = [:]
        var requests: [ScriptedServer.Request] = []
        var stopped = false
    }

    private let state = Mutex(State())

    /// Records a new connection and returns its number (from 1), or nil once the server is stopping.
    func accept(_ channel: any Channel) -> Int? {
        let number: Int? = state.withLock { state in
            guard !state.stopped else { return nil }
            state.accepted += 1
            state.open[ObjectIdentifier(channel)] = channel
            return state.accepted
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.open.removeValue(forKey: ObjectIdentifier(channel)) }
        }
        return number
    }

    func record(_ request: ScriptedServer.Request) {
        state.withLock { $0.requests.append(request) }
    }

    var connectionCount: Int { state.withLock { $0.accepted } }

    var requests: [ScriptedServer.Request] { state.withLock { $0.requests } }

    /// Refuses later connections and returns the open ones, for closing.
    func stop() -> [any Channel] {
        state.withLock { state in
            state.stopped = true
            return Array(state.open.values)
        }
    }
}
