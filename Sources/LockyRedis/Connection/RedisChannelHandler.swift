import DequeModule
import LockyRESP
import Logging
import NIOCore

/// The NIO side of one Redis connection: encodes commands, decodes replies and matches them
/// to their callers in order, enforces command deadlines, sends keep-alive pings and routes
/// pub/sub pushes.
///
/// Every method runs on the channel's event loop.
final class RedisChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let eventLoop: any EventLoop
    private let commandTimeout: TimeAmount
    private let keepAliveInterval: TimeAmount?
    private let logger: Logger
    private var processor: NIOSingleStepByteToMessageProcessor<RESPTokenDecoder>
    private var context: ChannelHandlerContext?
    private var queue = RedisCommandQueue<RedisReplySink>()
    private var outbound: ByteBuffer
    private var flushScheduled = false
    /// Commands written to ``outbound`` since it last went out.
    private var unflushed = 0
    private var deadlineTimer: Scheduled<Void>?
    /// When ``deadlineTimer`` fires.
    private var armedDeadline: NIODeadline?
    private var keepAliveTask: Scheduled<Void>?
    private var lastActivity: NIODeadline = .now()
    /// When the server last sent anything: how long it has been silent.
    private(set) var lastRead: NIODeadline = .now()
    private var nextID: UInt64 = 1 << 63
    /// Ids cancelled before their command reached this handler (not sent at all), with when the
    /// cancellation came. Tasks take ids before they hop here, so ids arrive out of order and a
    /// higher id seen says nothing about a lower one; entries are dropped by age instead (see ``cancel(_:)``).
    private var cancelledBeforeSend: [UInt64: NIODeadline] = [:]
    /// One timer for every caller that waits only so long (`waitLimit` of ``send(_:id:to:timeout:waitLimit:coalesce:)``),
    /// armed for the earliest: a timer per command cost a Redlock cycle about 1 µs per node and command.
    private var waitLimitTimer: Scheduled<Void>?
    /// When ``waitLimitTimer`` fires.
    private var armedWaitLimit: NIODeadline?
    /// Set once the connection is closing or closed; later commands fail at once with it.
    private(set) var closeReason: RedisClientError?

    /// Receives RESP3 pushes, and in ``subscriberMode`` the RESP2 pub/sub arrays.
    var pushHandler: ((RESPToken) -> Void)?
    /// Called once when the connection is gone, with the reason.
    var onClose: ((RedisClientError) -> Void)?
    /// RESP2 has no push type: on a subscribed RESP2 connection pub/sub messages arrive as arrays.
    var subscriberMode = false
    /// Receives error replies that no command waits for, instead of closing the connection: on
    /// the subscriber connection `SUBSCRIBE` is answered by pushes, but refused with an error
    /// reply (`NOPERM` when the ACL does not allow the channel).
    var unexpectedErrorHandler: ((RedisServerError) -> Void)?

    init(eventLoop: any EventLoop, configuration: RedisConfiguration, logger: Logger) {
        self.eventLoop = eventLoop
        self.commandTimeout = TimeAmount(configuration.commandTimeout)
        self.keepAliveInterval = configuration.keepAliveInterval.map(TimeAmount.init)
        self.logger = logger
        self.processor = NIOSingleStepByteToMessageProcessor(
            RESPTokenDecoder(limits: configuration.limits),
            maximumBufferSize: nil
        )
        self.outbound = ByteBufferAllocator().buffer(capacity: 512)
    }

    /// Number of commands waiting for a reply.
    var pendingCount: Int { queue.count }

    // MARK: Sending

    /// Queues one command of the handler's own (handshake, keep-alive), under an internal id.
    func send(_ command: RESPCommand, to sink: RedisReplySink?, timeout: TimeAmount? = nil) {
        nextID &+= 1
        // The handshake's commands leave together, in one write.
        send(command, id: nextID, to: sink, timeout: timeout, coalesce: true)
    }

    /// Queues one command; `id` (unique per client) lets the caller ``cancel(_:)`` it.
    ///
    /// A command sent while nothing is in flight is written at once (latency); one sent while
    /// others wait joins the write scheduled for the end of this event-loop tick (throughput).
    /// A batch passes `coalesce` so that all of it leaves in one write.
    ///
    /// With `waitLimit`, the caller waits at most that long for the reply and then fails with
    /// `timeout` (``RedisClientError/mayHaveRun`` set). Unlike the command deadline this keeps
    /// the connection and the command's place in it: the late reply is dropped, and whatever is
    /// sent next reaches the server after the command (Redlock's per-node timeout needs that).
    func send(
        _ command: RESPCommand,
        id: UInt64,
        to sink: RedisReplySink?,
        timeout: TimeAmount? = nil,
        waitLimit: TimeAmount? = nil,
        coalesce: Bool = false
    ) {
        eventLoop.preconditionInEventLoop()
        if let closeReason {
            sink?.complete(.failure(Self.notSent(closeReason)))
            return
        }
        if id < 1 << 63, !cancelledBeforeSend.isEmpty {
            if cancelledBeforeSend.removeValue(forKey: id) != nil {
                sink?.complete(.failure(RedisClientError(.cancelled, "the calling task was cancelled; not sent")))
                return
            }
        }
        let idle = queue.isEmpty && !flushScheduled && !coalesce
        let now = NIODeadline.now()
        let limit = waitLimit.map { (until: now + $0, amount: $0) }
        queue.append(id: id, sink: sink, deadline: now + (timeout ?? commandTimeout), waitLimit: limit)
        command.write(into: &outbound)
        unflushed += 1
        if idle || (unflushed >= Self.commandsPerWrite && !coalesce) {
            flushNow()
        } else {
            scheduleFlush()
        }
        armDeadlineTimer()
        if let limit { armWaitLimitTimer(for: limit.until) }
    }

    /// Writes a command whose answer comes as a push, not as a reply (`SUBSCRIBE` and friends).
    func sendWithoutReply(_ command: RESPCommand) {
        eventLoop.preconditionInEventLoop()
        guard closeReason == nil else { return }
        command.write(into: &outbound)
        scheduleFlush()
    }

    /// The caller of `id` stopped waiting: fail it now, drop its reply when it comes.
    func cancel(_ id: UInt64) {
        if let sink = queue.cancel(id) {
            sink.complete(.failure(RedisClientError(.cancelled, "the calling task was cancelled", mayHaveRun: true)))
        } else {
            // Either the cancellation overtook the command on its way to the event loop, or the command
            // was answered already. The hop takes microseconds, so an entry older than a second belongs
            // to an answered command and can go.
            let now = NIODeadline.now()
            if cancelledBeforeSend.count >= 64 {
                cancelledBeforeSend = cancelledBeforeSend.filter { now - $0.value < .seconds(1) }
            }
            cancelledBeforeSend[id] = now
        }
    }

    /// Closes the connection; pending commands fail with `reason`.
    func close(_ reason: RedisClientError) {
        guard closeReason == nil else { return }
        closeReason = reason
        // The owner stops handing out this connection before any caller is told, so a caller that retries at
        // once dials again instead of failing with "not sent" on a connection that is still closing.
        notifyClosed(reason)
        // Every waiting command fails now, and nothing read from here on is matched to a caller: a TLS
        // connection keeps delivering data during its shutdown (up to seconds), and after a deadline the
        // late reply of the retired command would otherwise go to the next caller.
        failPending(reason)
        context?.close(promise: nil)
    }

    private func failPending(_ reason: RedisClientError) {
        let lost = RedisClientError(
            reason.code == .timeout ? .connectionLost : reason.code,
            reason.message,
            serverError: reason.serverError,
            mayHaveRun: true,
            underlying: reason.underlying
        )
        for entry in queue.removeAll() {
            entry.sink?.complete(.failure(lost))
        }
    }

    /// Tells the owner, once, that this connection is gone.
    private func notifyClosed(_ reason: RedisClientError) {
        let onClose = self.onClose
        self.onClose = nil
        onClose?(reason)
    }

    /// Commands from many tasks queued in the same event-loop tick leave together, but at most
    /// this many in one write: the server starts on the first while the rest are still being
    /// queued, instead of idling until the tick ends. Measured with 64 tasks (`concurrent`, three
    /// runs each): 0.73–0.83 × redis-benchmark with one write per tick; 0.91–0.93 with 16, 0.93–0.95
    /// with 32, 0.85–0.87 with 48.
    static let commandsPerWrite = 32

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            self.flushNow()
        }
    }

    /// Writes what ``outbound`` holds. A flush scheduled for the end of the tick stays
    /// scheduled, for what is queued after this.
    private func flushNow() {
        unflushed = 0
        guard let context, outbound.readableBytes > 0 else { return }
        let buffer = outbound
        outbound = context.channel.allocator.buffer(capacity: 512)
        lastActivity = .now()
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    // MARK: Deadlines and keep-alive

    /// Makes the timer fire no later than the head's deadline. Replies come in order, so only the head is
    /// timed: a shorter per-call timeout queued behind a slower command takes effect once that command is
    /// answered (for a bound on each caller's wait regardless of its place, use a wait limit).
    private func armDeadlineTimer() {
        guard let deadline = queue.nextDeadline else { return }
        if let armedDeadline, armedDeadline <= deadline { return }
        deadlineTimer?.cancel()
        armedDeadline = deadline
        deadlineTimer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.deadlineFired() }
    }

    /// Makes sure the wait-limit timer fires by `waitUntil`. Replies cancel nothing: the timer
    /// fires at most once per limit, finds the answered commands gone, and re-arms for the rest.
    private func armWaitLimitTimer(for waitUntil: NIODeadline) {
        if let armedWaitLimit, armedWaitLimit <= waitUntil { return }
        waitLimitTimer?.cancel()
        armedWaitLimit = waitUntil
        waitLimitTimer = eventLoop.assumeIsolated().scheduleTask(deadline: waitUntil) { self.waitLimitFired() }
    }

    private func waitLimitFired() {
        waitLimitTimer = nil
        armedWaitLimit = nil
        guard closeReason == nil else { return }
        for (sink, limit) in queue.expireWaits(at: .now()) {
            let message = "no reply within \(limit.nanoseconds / 1_000_000) ms; the connection is kept"
            sink.complete(.failure(RedisClientError(.timeout, message, mayHaveRun: true)))
        }
        if let next = queue.nextWaitLimit { armWaitLimitTimer(for: next) }
    }

    private func deadlineFired() {
        deadlineTimer = nil
        armedDeadline = nil
        guard closeReason == nil else { return }
        if queue.isHeadExpired(at: .now()) {
            // A silent server: the position in the reply stream is unknown from here on.
            logger.debug("command deadline passed; retiring the connection")
            let reason = RedisClientError(.timeout, "no reply within the command deadline; connection retired", mayHaveRun: true)
            let head = queue.receive()
            close(reason)
            head?.sink?.complete(.failure(reason))
        } else {
            armDeadlineTimer()
        }
    }

    private func startKeepAlive() {
        guard let interval = keepAliveInterval, keepAliveTask == nil, closeReason == nil else { return }
        keepAliveTask = eventLoop.assumeIsolated().scheduleTask(in: interval) {
            self.keepAliveTask = nil
            self.keepAliveTick(interval)
            self.startKeepAlive()
        }
    }

    private func keepAliveTick(_ interval: TimeAmount) {
        guard closeReason == nil, queue.isEmpty, NIODeadline.now() - lastActivity >= interval else { return }
        logger.trace("idle connection: sending keep-alive PING")
        send(RESPCommand("PING"), to: nil)
    }

    // MARK: ChannelInboundHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { startKeepAlive() }
    }

    func channelActive(context: ChannelHandlerContext) {
        startKeepAlive()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Closing: the position in the reply stream no longer means anything (see `close`).
        guard closeReason == nil else { return }
        let buffer = unwrapInboundIn(data)
        lastActivity = .now()
        lastRead = lastActivity
        do {
            try processor.process(buffer: buffer) { token in
                self.receive(token)
            }
        } catch let error as RESPParsingError {
            close(
                RedisClientError(.protocolError, "malformed reply from the server: \(error)", mayHaveRun: true, underlying: error)
            )
        } catch {
            close(RedisClientError(.protocolError, "malformed reply from the server", mayHaveRun: true, underlying: error))
        }
    }

    private func receive(_ token: RESPToken) {
        // A reply earlier in the same read may have closed the connection.
        guard closeReason == nil else { return }
        if isPush(token) {
            pushHandler?(token)
            return
        }
        guard let entry = queue.receive() else {
            if let serverError = token.serverError, let unexpectedErrorHandler {
                unexpectedErrorHandler(serverError)
                return
            }
            close(RedisClientError(.protocolError, "the server sent a reply nobody asked for", mayHaveRun: true))
            return
        }
        // The next command may have a shorter timeout than the one just answered.
        armDeadlineTimer()
        guard let sink = entry.sink else { return }
        if let serverError = token.serverError {
            sink.complete(.failure(.server(serverError)))
        } else {
            sink.complete(.success(token))
        }
    }

    private func isPush(_ token: RESPToken) -> Bool {
        switch token.value {
        case .push:
            return true
        case .array(let elements) where subscriberMode:
            // RESP2 pub/sub: ["message", channel, payload], ["subscribe", channel, count], …; but
            // a PING on a subscribed RESP2 connection answers ["pong", ""], which is a reply.
            var iterator = elements.makeIterator()
            guard let first = iterator.next(), case .bulkString(let kind) = first.value else { return false }
            return kind.readableBytesView.elementsEqual("pong".utf8) == false
        default:
            return false
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reason: RedisClientError
        if let error = error as? RedisClientError {
            reason = error
        } else {
            reason = RedisClientError(
                .connectionLost, "connection error: \(error)", mayHaveRun: true, underlying: SendableErrorBox(error))
        }
        close(reason)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let reason = closeReason ?? RedisClientError(.connectionLost, "the server closed the connection", mayHaveRun: true)
        closeReason = reason
        deadlineTimer?.cancel()
        deadlineTimer = nil
        armedDeadline = nil
        keepAliveTask?.cancel()
        keepAliveTask = nil
        waitLimitTimer?.cancel()
        waitLimitTimer = nil
        armedWaitLimit = nil
        notifyClosed(reason)
        failPending(reason)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Whether `result` failed as ``notSent(_:)`` does when the connection was lost: nothing
    /// was written, so the command may go again on a new connection.
    static func wasLostUnsent<T>(_ result: Result<T, RedisClientError>) -> Bool {
        guard case .failure(let error) = result else { return false }
        return error.code == .connectionLost && !error.mayHaveRun
    }

    /// The same error, for a command that never reached the connection.
    static func notSent(_ reason: RedisClientError) -> RedisClientError {
        RedisClientError(
            reason.code == .closed ? .closed : .connectionLost,
            "not sent: \(reason.message)",
            mayHaveRun: false,
            underlying: reason.underlying
        )
    }
}
