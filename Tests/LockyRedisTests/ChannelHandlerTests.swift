import LockyRESP
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import LockyRedis

/// The handler's bookkeeping on an in-process channel: what it writes and which caller it answers,
/// for orderings that a real connection produces too rarely to test.
@Suite struct ChannelHandlerTests {
    private func makeChannel() throws -> (EmbeddedChannel, RedisChannelHandler) {
        let channel = EmbeddedChannel()
        let handler = RedisChannelHandler(
            eventLoop: channel.embeddedEventLoop,
            configuration: RedisConfiguration(keepAliveInterval: nil),
            logger: Logger(label: "test")
        )
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
        return (channel, handler)
    }

    private func written(_ channel: EmbeddedChannel) throws -> String {
        channel.embeddedEventLoop.run()
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    /// Tasks take their ids before they hop to the event loop, so a later id can arrive first; a
    /// cancellation that then overtakes its own command must still keep that command from being sent.
    @Test func aCancellationThatOvertakesItsCommandKeepsItUnsent() throws {
        let (channel, handler) = try makeChannel()
        defer { _ = try? channel.finish() }
        let loop = channel.embeddedEventLoop
        let other = loop.makePromise(of: RESPToken.self)
        handler.send(RESPCommand("PING"), id: 6, to: .promise(other))
        handler.cancel(5)
        let cancelled = loop.makePromise(of: RESPToken.self)
        let failed = Mutex<RedisClientError?>(nil)
        cancelled.futureResult.whenFailure { error in failed.withLock { $0 = error as? RedisClientError } }
        handler.send(RESPCommand("GET", "key"), id: 5, to: .promise(cancelled))

        let failure = failed.withLock { $0 }
        #expect(failure?.code == .cancelled)
        #expect(failure?.mayHaveRun == false)
        #expect(handler.pendingCount == 1)
        let text = try written(channel)
        #expect(text.contains("PING"))
        #expect(!text.contains("GET"))
        // The other command is still answered.
        try channel.writeInbound(ByteBuffer(string: "+PONG\r\n"))
        #expect(try other.futureResult.wait().value == .simpleString(ByteBuffer(string: "PONG")))
    }

    /// A cancellation that comes after the reply is remembered only briefly and touches no other command.
    @Test func aLateCancellationAffectsNoOtherCommand() throws {
        let (channel, handler) = try makeChannel()
        defer { _ = try? channel.finish() }
        let loop = channel.embeddedEventLoop
        for id in UInt64(1)...200 {
            let promise = loop.makePromise(of: RESPToken.self)
            handler.send(RESPCommand("PING"), id: id, to: .promise(promise))
            try channel.writeInbound(ByteBuffer(string: "+PONG\r\n"))
            _ = try promise.futureResult.wait()
            handler.cancel(id)
        }
        let next = loop.makePromise(of: RESPToken.self)
        handler.send(RESPCommand("PING"), id: 201, to: .promise(next))
        try channel.writeInbound(ByteBuffer(string: "+PONG\r\n"))
        #expect(try next.futureResult.wait().value == .simpleString(ByteBuffer(string: "PONG")))
    }
}
