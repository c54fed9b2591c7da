import Foundation
import LockyRESP
import NIOCore

/// Serves one connection of a ``ScriptedServer``: parses the client's commands and plays the script's replies.
///
/// Only used on its channel's event loop.
final class ScriptedConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let connection: Int
    private let script: ScriptedServer.Script
    private let log: ScriptedServerLog
    private var received = ByteBuffer()
    private var pending: [ScriptedServer.Request] = []
    private var nextIndex = 0
    /// A reply is being written; the next request waits for it.
    private var busy = false
    /// After a `.silence` reply, or once closing: input is discarded.
    private var deaf = false

    init(connection: Int, script: @escaping ScriptedServer.Script, log: ScriptedServerLog) {
        self.connection = connection
        self.script = script
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !deaf else { return }
        var buffer = unwrapInboundIn(data)
        received.writeBuffer(&buffer)
        do {
            while let token = try RESPToken(consuming: &received) {
                pending.append(request(from: token))
            }
        } catch {
            // A client that sends invalid RESP is not what these tests are about: hang up.
            deaf = true
            context.close(promise: nil)
            return
        }
        received.discardReadBytes()
        serveNext(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func request(from token: RESPToken) -> ScriptedServer.Request {
        var arguments: [String] = []
        if case .array(let elements) = token.value {
            for element in elements {
                if case .bulkString(let bytes) = element.value {
                    arguments.append(String(buffer: bytes))
                }
            }
        }
        defer { nextIndex += 1 }
        return ScriptedServer.Request(connection: connection, index: nextIndex, arguments: arguments)
    }

    private func serveNext(context: ChannelHandlerContext) {
        while !busy, !deaf, !pending.isEmpty {
            let request = pending.removeFirst()
            log.record(request)
            let reply = script(request)
            busy = true
            if reply.isStandard {
                write(ScriptedServer.Reply.standardBytes(for: request), remaining: 1, then: reply.then, context: context)
                continue
            }
            if !reply.prefix.isEmpty {
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply.prefix)), promise: nil)
            }
            write(reply.bytes, remaining: reply.repetitions, then: reply.then, context: context)
        }
    }

    /// Writes `bytes` `remaining` times, each copy after the previous one was taken by the kernel.
    private func write(_ bytes: [UInt8], remaining: Int, then: ScriptedServer.Reply.Then, context: ChannelHandlerContext) {
        guard remaining > 0, !bytes.isEmpty, context.channel.isActive else {
            finish(then, context: context)
            return
        }
        // Small pieces go out many at a time (100k writes of `*1\r\n` would crawl), up to about 64 KiB per write.
        let copies = min(remaining, max(1, 65_536 / bytes.count))
        var buffer = context.channel.allocator.buffer(capacity: copies * bytes.count)
        for _ in 0..<copies { buffer.writeBytes(bytes) }
        let loop = context.eventLoop.assumeIsolated()
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                loop.execute { self.write(bytes, remaining: remaining - copies, then: then, context: context) }
            case .failure:
                // The client hung up (as it should after a protocol error): stop streaming.
                self.deaf = true
                context.close(promise: nil)
            }
        }
    }

    private func finish(_ then: ScriptedServer.Reply.Then, context: ChannelHandlerContext) {
        busy = false
        switch then {
        case .keepServing:
            serveNext(context: context)
        case .silence:
            deaf = true
            pending.removeAll()
        case .close:
            deaf = true
            context.close(promise: nil)
        case .reset:
            deaf = true
            let channel = context.channel
            if let provider = channel as? any SocketOptionProvider {
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        }
    }
}
