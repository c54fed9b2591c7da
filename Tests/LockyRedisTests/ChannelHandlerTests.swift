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

    /// How many commands a write holds (each `PING`).
    private func pings(in buffer: ByteBuffer) -> Int {
        String(buffer: buffer).ranges(of: "PING").count
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

    /// Commands queued in one event-loop tick leave in writes of at most `commandsPerWrite`, so the
    /// server can start on the first while the rest are still queued; a batch still leaves whole.
    @Test func aBurstLeavesInWritesOfBoundedSize() throws {
        let (channel, handler) = try makeChannel()
        defer { _ = try? channel.finish() }
        let loop = channel.embeddedEventLoop
        let limit = RedisChannelHandler.commandsPerWrite
        // The first command finds the connection idle and leaves at once.
        let count = 1 + limit + 5
        for id in 1...UInt64(count) {
            handler.send(RESPCommand("PING"), id: id, to: .promise(loop.makePromise(of: RESPToken.self)))
        }
        // Before the tick ends: the idle one, then one full write.
        var writes: [Int] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            writes.append(pings(in: buffer))
        }
        #expect(writes == [1, limit])
        // The rest at the end of the tick.
        loop.run()
        #expect(try channel.readOutbound(as: ByteBuffer.self).map(pings(in:)) == 5)

        // A batch (coalesced) of more than the limit leaves in one write.
        for id in UInt64(count + 1)...UInt64(count + 2 * limit) {
            handler.send(
                RESPCommand("PING"), id: id, to: .promise(loop.makePromise(of: RESPToken.self)), coalesce: true)
        }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        loop.run()
        #expect(try channel.readOutbound(as: ByteBuffer.self).map(pings(in:)) == 2 * limit)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
    }
}
