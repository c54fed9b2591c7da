import NIOCore
import NIOPosix
import Synchronization

/// A fake Redis on 127.0.0.1 that answers every command with whatever its script says: well-formed replies, wrong
/// types, truncated or endless frames, garbage, resets or silence. For testing how a client survives a hostile or
/// broken server.
///
/// ```swift
/// let server = try await ScriptedServer.start { request in
///     if request.isHandshake { return .standard }
///     return request.connection == 1 ? .raw("$10\r\nabc", then: .close) : .standard
/// }
/// ```
///
/// Requests on one connection are handled one at a time, in order: the next waits until the previous reply has been
/// written. Every method may be called from any task.
public final class ScriptedServer: Sendable {
    /// Decides the reply to each request; called on the connection's event loop, so it must be quick.
    public typealias Script = @Sendable (Request) -> Reply

    /// The address the server listens on: always `127.0.0.1`.
    public let host = "127.0.0.1"
    /// The port the server listens on.
    public let port: Int

    private let listener: any Channel
    private let log: ScriptedServerLog

    private init(listener: any Channel, log: ScriptedServerLog, port: Int) {
        self.listener = listener
        self.log = log
        self.port = port
    }

    deinit {
        listener.close(promise: nil)
        for channel in log.stop() { channel.close(promise: nil) }
    }

    /// `redis://127.0.0.1:PORT`.
    public var url: String { "redis://\(host):\(port)" }

    /// How many connections were accepted so far.
    public var connectionCount: Int { log.connectionCount }

    /// Every request received so far, in order of arrival.
    public var requests: [Request] { log.requests }

    /// Starts a server that answers with `script`.
    /// - Throws: ``RedisHarnessError`` when no port can be bound.
    public static func start(_ script: @escaping Script) async throws(RedisHarnessError) -> ScriptedServer {
        let log = ScriptedServerLog()
        let listener: any Channel
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    guard let number = log.accept(channel) else { return channel.close() }
                    do {
                        let handler = ScriptedConnectionHandler(connection: number, script: script, log: log)
                        try channel.pipeline.syncOperations.addHandler(handler)
                        return channel.eventLoop.makeSucceededVoidFuture()
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                }
                .bind(host: "127.0.0.1", port: 0)
                .get()
        } catch {
            throw RedisHarnessError(.startFailed, "ScriptedServer could not listen on 127.0.0.1: \(error)")
        }
        guard let port = listener.localAddress?.port else {
            try? await listener.close()
            throw RedisHarnessError(.startFailed, "ScriptedServer: the listening socket has no port")
        }
        return ScriptedServer(listener: listener, log: log, port: port)
    }

    /// Starts a server, runs `body` with it and always stops it afterwards, also when `body` throws.
    public static func withServer<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ script: @escaping Script,
        _ body: (ScriptedServer) async throws -> T
    ) async throws -> T {
        let server = try await start(script)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Stops listening and closes every connection. Idempotent.
    public func stop() async {
        try? await listener.close()
        for channel in log.stop() {
            try? await channel.close()
        }
    }
}
