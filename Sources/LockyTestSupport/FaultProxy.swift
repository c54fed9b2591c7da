import NIOCore
import NIOPosix

/// A TCP proxy on 127.0.0.1 between a client and a server (usually a ``RedisServer``) that injects network faults
/// while tests run: latency with jitter, a bandwidth limit, blackholes, stalls, resets and half-open connections.
///
/// ```swift
/// try await FaultProxy.withProxy(upstream: server.port) { proxy in
///     // point the client at proxy.url instead of server.url
///     proxy.set(.latency(.milliseconds(50), jitter: .milliseconds(10)))
///     proxy.blackhole(.serverToClient)
///     proxy.heal()
///     await proxy.resetAll()
/// }
/// ```
///
/// Faults are global to the proxy and take effect at once, for bytes read from then on, on every connection (open
/// or future). Each accepted connection gets its own connection to the server. The proxy only ever connects to
/// 127.0.0.1. Every method may be called from any task.
public final class FaultProxy: Sendable {
    /// The address the proxy listens on: always `127.0.0.1`.
    public let host = "127.0.0.1"
    /// The port the proxy listens on; clients connect here instead of to the server.
    public let port: Int
    /// The server's port on 127.0.0.1.
    public var upstreamPort: Int { core.upstreamPort }

    private let core: ProxyCore
    private let listener: any Channel

    private init(core: ProxyCore, listener: any Channel, port: Int) {
        self.core = core
        self.listener = listener
        self.port = port
    }

    deinit {
        // A proxy dropped without stop() must not keep its port; stop() has normally closed it already.
        listener.close(promise: nil)
        for bound in core.connections(stopping: true) {
            bound.eventLoop.execute { _ = bound.value.close() }
        }
    }

    /// `redis://127.0.0.1:PORT` of the proxy, for a client that should go through it.
    public var url: String { "redis://\(host):\(port)" }

    /// How many client connections are open through the proxy (half-open ones included).
    public var connectionCount: Int { core.connectionCount }

    /// How many client connections the proxy has accepted since it started.
    public var acceptedCount: Int { core.acceptedCount }

    // MARK: Lifecycle

    /// Starts a proxy in front of the server listening on 127.0.0.1:`upstream`.
    ///
    /// - Parameters:
    ///   - upstream: The server's port.
    ///   - port: The port to listen on; 0 (the default) picks a free one. A fixed port lets a test start a new proxy
    ///     where an old one was, so clients keep their address.
    /// - Throws: ``RedisHarnessError`` when the port cannot be bound.
    public static func start(upstream: Int, port: Int = 0) async throws(RedisHarnessError) -> FaultProxy {
        let core = ProxyCore(upstreamPort: upstream)
        let listener: any Channel
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { client in ProxyConnection.accept(client, core: core) }
                .bind(host: "127.0.0.1", port: port)
                .get()
        } catch {
            throw RedisHarnessError(.startFailed, "FaultProxy could not listen on 127.0.0.1:\(port): \(error)")
        }
        guard let bound = listener.localAddress?.port else {
            try? await listener.close()
            throw RedisHarnessError(.startFailed, "FaultProxy: the listening socket has no port")
        }
        return FaultProxy(core: core, listener: listener, port: bound)
    }

    /// Starts a proxy, runs `body` with it and always stops it afterwards, also when `body` throws.
    public static func withProxy<T>(
        upstream: Int,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (FaultProxy) async throws -> T
    ) async throws -> T {
        let proxy = try await start(upstream: upstream)
        do {
            let result = try await body(proxy)
            await proxy.stop()
            return result
        } catch {
            await proxy.stop()
            throw error
        }
    }

    /// Stops listening and closes every connection (normally, with a FIN). Idempotent.
    public func stop() async {
        try? await listener.close()
        let closes = core.connections(stopping: true).map { bound in
            bound.eventLoop.flatSubmit { bound.value.close() }
        }
        for close in closes { try? await close.get() }
    }

    // MARK: Faults

    /// Imposes `fault` on every connection, replacing an earlier fault of the same kind in the same directions.
    public func set(_ fault: Fault) {
        core.update { conditions, flow in conditions.apply(fault, to: flow) }
    }

    /// Drops the bytes flowing in `direction`; shorthand for `set(.blackhole(direction))`.
    public func blackhole(_ direction: Direction = .both) {
        set(.blackhole(direction))
    }

    /// Removes every fault: bytes flow at full speed both ways again, and stalled bytes are delivered.
    ///
    /// Bytes already held back by latency keep their delivery time. Connections made half-open by ``halfOpen(_:)``
    /// stay as they are (their peer is gone for good); new connections are healthy.
    public func heal() {
        core.update { conditions, _ in conditions = LinkConditions() }
    }

    /// Resets every open connection: both of its sockets are closed with SO_LINGER 0, so the client and the server
    /// each receive an RST. Returns once they are closed. The proxy keeps accepting new connections.
    public func resetAll() async {
        let resets = core.connections().map { bound in
            bound.eventLoop.flatSubmit { bound.value.reset() }
        }
        for reset in resets { try? await reset.get() }
    }

    /// Makes every open connection half-open (see ``HalfOpenMode``) and returns once that is done. They stay so until
    /// ``resetAll()`` or ``stop()``; connections accepted later are healthy.
    public func halfOpen(_ mode: HalfOpenMode = .frozen) async {
        let changes = core.connections().map { bound in
            bound.eventLoop.flatSubmit { bound.value.halfOpen(mode) }
        }
        for change in changes { try? await change.get() }
    }
}
