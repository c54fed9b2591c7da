import NIOCore

/// Sits in the pipeline of one socket of a proxied connection: hands what it reads to the ``ProxyConnection``, writes
/// what the connection delivers, and holds back the channel's reads while the connection says so (back-pressure,
/// stalls, half-open freezes).
///
/// Only used on its channel's event loop.
final class ProxyEndpointHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let side: ProxySide
    /// Cleared when the handler leaves the pipeline, which breaks the connection ↔ handler cycle.
    private var connection: ProxyConnection?
    private var context: ChannelHandlerContext?
    /// A read the channel asked for while reading was not allowed.
    private var readHeld = false

    init(side: ProxySide, connection: ProxyConnection) {
        self.side = side
        self.connection = connection
    }

    /// Whether the socket can take more writes without queueing in NIO.
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        connection?.attach(self, channel: context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        connection = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection?.received(unwrapInboundIn(data), from: side)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection?.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection?.endpointClosed(side)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset or broken pipe: closing fires channelInactive, which the connection handles.
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if connection?.mayRead(from: side) == true {
            context.read()
        } else {
            readHeld = true
        }
    }

    /// Passes on a read that was held back, if reading is allowed again.
    func resumeReading() {
        guard readHeld, let context, connection?.mayRead(from: side) == true else { return }
        readHeld = false
        context.read()
    }

    /// Writes and flushes `buffers` to this socket.
    func write(_ buffers: [ByteBuffer]) {
        guard let context, !buffers.isEmpty else { return }
        for buffer in buffers {
            context.write(wrapOutboundOut(buffer), promise: nil)
        }
        context.flush()
    }
}
