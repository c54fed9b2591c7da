import Foundation
import NIOCore
import NIOPosix

/// One client connection through a ``FaultProxy`` and the proxy's own connection to the server, with the two flows
/// between them.
///
/// Both sockets live on the same event loop and every method runs on it.
final class ProxyConnection {
    private let core: ProxyCore
    let eventLoop: any EventLoop
    private var endpoints: [ProxySide: ProxyEndpointHandler] = [:]
    private var channels: [ProxySide: any Channel] = [:]
    private var open: Set<ProxySide> = []
    private var links: [ProxyFlow: ProxyLink] = [.toServer: ProxyLink(), .toClient: ProxyLink()]
    private var timers: [ProxyFlow: Scheduled<Void>] = [:]
    /// Flows whose source closed: the sink is closed once what is queued has been delivered.
    private var closeWhenDrained: Set<ProxyFlow> = []
    /// Set by ``halfOpen(_:)``: nothing is forwarded any more and closes are not passed on.
    private var frozen = false
    private var unregistered = false

    /// Above this many queued bytes the sender is no longer read from.
    private static let highWatermark = 1 << 20

    init(core: ProxyCore, eventLoop: any EventLoop) {
        self.core = core
        self.eventLoop = eventLoop
    }

    private var id: ObjectIdentifier { ObjectIdentifier(self) }

    /// Accepts a client socket: registers the connection and dials the server.
    static func accept(_ client: any Channel, core: ProxyCore) -> EventLoopFuture<Void> {
        let connection = ProxyConnection(core: core, eventLoop: client.eventLoop)
        let bound = NIOLoopBound(connection, eventLoop: client.eventLoop)
        guard core.register(bound, id: connection.id) else {
            return client.close()
        }
        do {
            try client.pipeline.syncOperations.addHandler(ProxyEndpointHandler(side: .client, connection: connection))
        } catch {
            core.unregister(connection.id)
            return client.eventLoop.makeFailedFuture(error)
        }
        ClientBootstrap(group: client.eventLoop)
            .connectTimeout(.seconds(2))
            .channelInitializer { server in
                do {
                    try server.pipeline.syncOperations.addHandler(ProxyEndpointHandler(side: .server, connection: bound.value))
                    return server.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return server.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: "127.0.0.1", port: core.upstreamPort)
            .whenComplete { result in
                if case .failure = result { bound.value.upstreamFailed() }
            }
        return client.eventLoop.makeSucceededVoidFuture()
    }

    // MARK: Events from the endpoints

    func attach(_ endpoint: ProxyEndpointHandler, channel: any Channel) {
        endpoints[endpoint.side] = endpoint
        channels[endpoint.side] = channel
        open.insert(endpoint.side)
        if endpoint.side == .server, !open.contains(.client) {
            // The client left while the proxy was still dialling.
            channel.close(promise: nil)
            return
        }
        resumeReading()
    }

    private func upstreamFailed() {
        channels[.client]?.close(promise: nil)
        if channels[.server] == nil { finish() }
    }

    /// Reads are allowed once both sockets are there, unless frozen, stalled or backed up.
    func mayRead(from side: ProxySide) -> Bool {
        let flow = side.outgoingFlow
        guard !frozen, open.contains(.client), open.contains(.server), let sink = endpoints[side.opposite] else {
            return false
        }
        return !core.conditions(flow).stalled && (links[flow]?.queuedBytes ?? 0) < Self.highWatermark && sink.isWritable
    }

    func received(_ buffer: ByteBuffer, from side: ProxySide) {
        guard !frozen else { return }
        let flow = side.outgoingFlow
        let conditions = core.conditions(flow)
        if conditions.blackhole { return }
        if !conditions.delaysDelivery, !conditions.stalled, links[flow]?.isEmpty ?? true {
            endpoints[side.opposite]?.write([buffer])
            return
        }
        links[flow]?.enqueue(buffer, at: .now(), conditions: conditions)
        armTimer(flow)
    }

    func writabilityChanged() {
        resumeReading()
    }

    func conditionsChanged() {
        // A stall that ended leaves chunks whose time has passed: deliver them now.
        for flow in ProxyFlow.allCases { deliver(flow) }
        resumeReading()
    }

    func endpointClosed(_ side: ProxySide) {
        guard open.remove(side) != nil else { return }
        if open.isEmpty {
            finish()
            return
        }
        // A half-open connection stays as it is until a reset or stop.
        guard !frozen else { return }
        // What the closed side would have received is moot; what it sent is still delivered before the close.
        let incoming = side.opposite.outgoingFlow
        links[incoming]?.removeAll()
        timers.removeValue(forKey: incoming)?.cancel()
        closeWhenDrained.insert(side.outgoingFlow)
        closeDrainedSinks()
    }

    // MARK: Commands from the proxy

    /// Freezes the connection: nothing more is forwarded and nothing queued is delivered; with a FIN mode, one
    /// socket is shut down for writing.
    func halfOpen(_ mode: FaultProxy.HalfOpenMode) -> EventLoopFuture<Void> {
        frozen = true
        for flow in ProxyFlow.allCases {
            links[flow]?.removeAll()
            timers.removeValue(forKey: flow)?.cancel()
        }
        let target: ProxySide?
        switch mode {
        case .frozen: target = nil
        case .finToClient: target = .client
        case .finToServer: target = .server
        }
        guard let target, let channel = channels[target], open.contains(target) else {
            return eventLoop.makeSucceededVoidFuture()
        }
        let promise = eventLoop.makePromise(of: Void.self)
        channel.close(mode: .output, promise: promise)
        return promise.futureResult.recover { _ in }
    }

    /// Resets both sockets: SO_LINGER 0, then close, so the peers get an RST instead of a FIN.
    func reset() -> EventLoopFuture<Void> {
        frozen = true
        for flow in ProxyFlow.allCases {
            links[flow]?.removeAll()
            timers.removeValue(forKey: flow)?.cancel()
        }
        let closes = channels.values.map { channel -> EventLoopFuture<Void> in
            let lingered: EventLoopFuture<Void>
            if let provider = channel as? any SocketOptionProvider {
                lingered = provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).recover { _ in }
            } else {
                lingered = eventLoop.makeSucceededVoidFuture()
            }
            return lingered.flatMap { channel.close() }.recover { _ in }
        }
        return EventLoopFuture.andAllComplete(closes, on: eventLoop)
    }

    /// Closes both sockets normally.
    func close() -> EventLoopFuture<Void> {
        frozen = true
        let closes = channels.values.map { $0.close().recover { _ in } }
        return EventLoopFuture.andAllComplete(closes, on: eventLoop)
    }

    // MARK: Delivery

    private func armTimer(_ flow: ProxyFlow) {
        guard timers[flow] == nil, let due = links[flow]?.nextDue else { return }
        timers[flow] = eventLoop.assumeIsolated().scheduleTask(deadline: due) {
            self.timers[flow] = nil
            self.deliver(flow)
        }
    }

    private func deliver(_ flow: ProxyFlow) {
        guard !frozen else { return }
        let conditions = core.conditions(flow)
        // A stalled flow keeps its chunks until the stall ends.
        if !conditions.stalled, let due = links[flow]?.takeDue(at: .now()), !due.isEmpty {
            if !conditions.blackhole {
                endpoints[flow == .toServer ? .server : .client]?.write(due)
            }
            resumeReading()
        }
        if !conditions.stalled { armTimer(flow) }
        closeDrainedSinks()
    }

    private func closeDrainedSinks() {
        for flow in closeWhenDrained where links[flow]?.isEmpty ?? true {
            closeWhenDrained.remove(flow)
            channels[flow == .toServer ? .server : .client]?.close(promise: nil)
        }
    }

    private func resumeReading() {
        endpoints[.client]?.resumeReading()
        endpoints[.server]?.resumeReading()
    }

    private func finish() {
        for flow in ProxyFlow.allCases {
            timers.removeValue(forKey: flow)?.cancel()
        }
        guard !unregistered else { return }
        unregistered = true
        core.unregister(id)
    }
}
