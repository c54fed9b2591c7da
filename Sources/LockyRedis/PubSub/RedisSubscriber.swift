import LockyRESP
import Logging
import NIOCore
import NIOSSL

/// The dedicated pub/sub connection of a ``RedisClient``.
///
/// Counts local subscribers per channel and pattern, so the server sees one `SUBSCRIBE` per
/// channel however many tasks listen. A channel nobody listens to any more stays subscribed
/// for ``RedisConfiguration/subscriptionLinger`` (an event-loop timer unsubscribes it), so a
/// task that subscribes again soon needs no round trip. When the connection drops it
/// reconnects (backoff from an event-loop timer, no task needed), restores every live
/// subscription, and tells each subscription that was live when it dropped that a gap
/// happened, once the server has confirmed them again.
actor RedisSubscriber {
    private struct Entry {
        let continuation: AsyncStream<RedisSubscriptionEvent>.Continuation
        /// Called on the event loop for each event instead of buffering it in the stream.
        let handler: (@Sendable (RedisSubscriptionEvent) -> Void)?
        let channels: [String]
        let patterns: [String]
        var needsGap = false
        /// Live when its connection was lost: told of the gap once its channels are restored.
        /// One confirmed only on a later connection missed nothing and is told nothing.
        var owesGap = false

        /// Hands `event` over; false when the stream's buffer was full.
        func deliver(_ event: RedisSubscriptionEvent) -> Bool {
            if let handler {
                handler(event)
                return true
            }
            if case .dropped = continuation.yield(event) { return false }
            return true
        }
    }

    private struct Waiter {
        var channels: Set<String>
        var patterns: Set<String>
        let continuation: CheckedContinuation<Result<Void, RedisClientError>, Never>
        let timer: Scheduled<Void>
    }

    private enum ConnectionState {
        case disconnected(failures: Int)
        /// With the attempt's handler, so ``close()`` can end a handshake that a stopped server never answers.
        case connecting(NIOLoopBound<RedisChannelHandler>)
        case connected(RedisConnector.Connection)
        case closed
    }

    /// How many undelivered events one subscription may hold before it reports a gap.
    static let bufferLimit = 65_536

    nonisolated let eventLoop: any EventLoop
    private let configuration: RedisConfiguration
    private let sslContext: NIOSSLContext?
    private let logger: Logger
    private var state: ConnectionState = .disconnected(failures: 0)
    /// Failed attempts before the live connection, and whether it dies young.
    private var failureCount = ConnectionFailureCount()
    private var entries: [UInt64: Entry] = [:]
    private var channelTargets: [String: Set<UInt64>] = [:]
    private var patternTargets: [String: Set<UInt64>] = [:]
    private var confirmedChannels: Set<String> = []
    private var confirmedPatterns: Set<String> = []
    /// `SUBSCRIBE`s (`PSUBSCRIBE`s) sent on this connection per name, not yet answered. Only
    /// the answer to the last one confirms: after a cancelled subscribe's `UNSUBSCRIBE` and a new
    /// `SUBSCRIBE`, the first answer comes before the server has run the other two.
    private var unansweredSubscribes: [String: Int] = [:]
    private var unansweredPSubscribes: [String: Int] = [:]
    /// When the last of those was sent, per name: how long the server has left it unanswered.
    private var subscribeSentAt: [String: NIODeadline] = [:]
    private var psubscribeSentAt: [String: NIODeadline] = [:]
    private var waiters: [UInt64: Waiter] = [:]
    private var gapPending = false
    /// Pending while backing off after failed attempts; nil otherwise.
    private var reconnectTimer: Scheduled<Void>?
    /// Why the last connection attempt failed or the last connection closed.
    private var lastFailure: RedisClientError?
    private var nextID: UInt64 = 0
    /// Confirmed channels nobody listens to, since when: unsubscribed after the linger time.
    private var idleChannels: [String: NIODeadline] = [:]
    private var lingerTimer: Scheduled<Void>?

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        eventLoop.executor.asUnownedSerialExecutor()
    }

    init(configuration: RedisConfiguration, eventLoop: any EventLoop, sslContext: NIOSSLContext?, logger: Logger) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.sslContext = sslContext
        var logger = logger
        logger[metadataKey: "redis.connection"] = "subscriber"
        self.logger = logger
    }

    /// A client dropped without ``close()`` drops this too: its connection, which keep-alive
    /// pings would hold open for good, closes with it (as the client's own does).
    deinit {
        switch state {
        case .connected(let connection):
            connection.channel.close(promise: nil)
        case .connecting(let handler):
            // Nobody would own the connection its handshake completes.
            let reason = RedisClientError(.closed, "the client was dropped", mayHaveRun: false)
            eventLoop.execute { handler.value.close(reason) }
        case .disconnected, .closed:
            break
        }
    }

    // MARK: Subscribing

    /// Registers a subscription and returns once the server confirmed all its channels and patterns.
    func subscribe(
        channels: [String],
        patterns: [String],
        timeout: Duration? = nil,
        handler: (@Sendable (RedisSubscriptionEvent) -> Void)? = nil
    ) async throws(RedisClientError) -> RedisSubscription {
        let (subscription, pending) = try register(channels: channels, patterns: patterns, handler: handler)
        guard let pending else { return subscription }
        return try await confirm(subscription, pending: pending, timeout: timeout)
    }

    /// The channels and patterns of a new subscription that the server has yet to confirm.
    typealias Unconfirmed = (channels: Set<String>, patterns: Set<String>)

    /// Registers a subscription (sending SUBSCRIBE for channels nobody had); returns it with
    /// what the server has yet to confirm, nil when nothing (channels already subscribed).
    /// Synchronous, so a task on the event loop can call it in place.
    func register(
        channels: [String],
        patterns: [String],
        handler: (@Sendable (RedisSubscriptionEvent) -> Void)?
    ) throws(RedisClientError) -> (RedisSubscription, Unconfirmed?) {
        if case .closed = state { throw RedisClientError(.closed, "the client is closed") }
        guard !channels.isEmpty || !patterns.isEmpty else {
            throw RedisClientError(.invalidArgument, "subscribe needs at least one channel or pattern")
        }
        nextID &+= 1
        let id = nextID
        let (stream, continuation) = AsyncStream.makeStream(
            of: RedisSubscriptionEvent.self,
            bufferingPolicy: .bufferingOldest(Self.bufferLimit)
        )
        entries[id] = Entry(continuation: continuation, handler: handler, channels: channels, patterns: patterns)

        var newChannels: [String] = []
        var newPatterns: [String] = []
        for channel in Set(channels) {
            if channelTargets[channel] == nil { newChannels.append(channel) }
            channelTargets[channel, default: []].insert(id)
            idleChannels[channel] = nil
        }
        for pattern in Set(patterns) {
            if patternTargets[pattern] == nil { newPatterns.append(pattern) }
            patternTargets[pattern, default: []].insert(id)
        }

        switch state {
        case .connected(let connection):
            send("SUBSCRIBE", newChannels, on: connection.handler)
            send("PSUBSCRIBE", newPatterns, on: connection.handler)
        case .disconnected(let failures):
            // After failed attempts the backoff stands: every waiting acquire subscribes, and
            // connecting for each one would storm a server that drops connections (the timeout
            // then names the last failure, see `confirm`).
            if failures == 0 || reconnectTimer == nil {
                reconnectTimer?.cancel()
                reconnectTimer = nil
                connect()
            }
        case .connecting, .closed:
            break
        }

        let remainingChannels = Set(channels).subtracting(confirmedChannels)
        let remainingPatterns = Set(patterns).subtracting(confirmedPatterns)
        let subscription = RedisSubscription(id: id, stream: stream, channels: channels, patterns: patterns)
        if remainingChannels.isEmpty && remainingPatterns.isEmpty { return (subscription, nil) }
        return (subscription, (remainingChannels, remainingPatterns))
    }

    /// Waits until the server confirmed `pending` of a registered subscription; on failure
    /// (timeout, cancellation, closed) unsubscribes it and throws.
    func confirm(
        _ subscription: RedisSubscription,
        pending: Unconfirmed,
        timeout: Duration?
    ) async throws(RedisClientError) -> RedisSubscription {
        let id = subscription.id
        if case .closed = state { throw RedisClientError(.closed, "the client is closed") }
        guard entries[id] != nil else { throw RedisClientError(.cancelled, "unsubscribed") }
        // Confirmations may have come in since `register` (a caller off the loop hops here).
        let pending: Unconfirmed = (
            pending.channels.subtracting(confirmedChannels), pending.patterns.subtracting(confirmedPatterns)
        )
        if pending.channels.isEmpty && pending.patterns.isEmpty { return subscription }
        // A cancelled task stops waiting at once (a paused server would otherwise hold it for
        // the whole timeout); the failure below then unsubscribes.
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, RedisClientError>, Never>) in
                if Task.isCancelled {
                    continuation.resume(returning: .failure(Self.cancelledWhileSubscribing))
                    return
                }
                let timer = eventLoop.scheduleTask(in: TimeAmount(timeout ?? configuration.commandTimeout)) { [weak self] in
                    guard let self else { return }
                    self.assumeIsolated { $0.confirmationExpired(id) }
                }
                waiters[id] = Waiter(
                    channels: pending.channels,
                    patterns: pending.patterns,
                    continuation: continuation,
                    timer: timer
                )
            }
        } onCancel: {
            eventLoop.execute { [weak self] in
                guard let self else { return }
                self.assumeIsolated { $0.endWait(id, .failure(Self.cancelledWhileSubscribing)) }
            }
        }
        switch result {
        case .success:
            return subscription
        case .failure(let error):
            unsubscribe(id)
            throw error
        }
    }

    /// Why a subscription was not confirmed in time: the server's silence, or, while reconnecting
    /// with backoff, the failure of the last attempt.
    private var confirmationTimedOut: RedisClientError {
        if case .disconnected(let failures) = state, failures > 0, let lastFailure {
            return RedisClientError(
                .unavailable, "reconnecting after \(failures) failed attempt(s): \(lastFailure.message)", underlying: lastFailure)
        }
        return RedisClientError(.timeout, "the server did not confirm the subscription in time")
    }

    /// Ends a subscription; channels nobody else listens to are unsubscribed on the server.
    func unsubscribe(_ id: UInt64) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        entry.continuation.finish()
        if let waiter = waiters.removeValue(forKey: id) {
            waiter.timer.cancel()
            waiter.continuation.resume(returning: .failure(RedisClientError(.cancelled, "unsubscribed")))
        }
        var goneChannels: [String] = []
        var gonePatterns: [String] = []
        let linger = TimeAmount(configuration.subscriptionLinger)
        for channel in Set(entry.channels) {
            channelTargets[channel]?.remove(id)
            guard channelTargets[channel]?.isEmpty == true else { continue }
            if linger > .zero, confirmedChannels.contains(channel), case .connected = state {
                // Stays subscribed a while, for the next task that wants it.
                idleChannels[channel] = .now()
                if lingerTimer == nil { scheduleLingerCheck(in: linger) }
            } else {
                channelTargets[channel] = nil
                confirmedChannels.remove(channel)
                goneChannels.append(channel)
            }
        }
        for pattern in Set(entry.patterns) {
            patternTargets[pattern]?.remove(id)
            if patternTargets[pattern]?.isEmpty == true {
                patternTargets[pattern] = nil
                confirmedPatterns.remove(pattern)
                gonePatterns.append(pattern)
            }
        }
        if case .connected(let connection) = state {
            send("UNSUBSCRIBE", goneChannels, on: connection.handler)
            send("PUNSUBSCRIBE", gonePatterns, on: connection.handler)
        }
        // The last subscription still waiting to be restored may be this one: the others are.
        deliverGapIfRestored()
    }

    private func scheduleLingerCheck(in delay: TimeAmount) {
        lingerTimer = eventLoop.scheduleTask(in: delay) { [weak self] in
            self?.assumeIsolated { $0.unsubscribeIdleChannels() }
        }
    }

    /// Unsubscribes the channels idle for the linger time; checks again for the others.
    private func unsubscribeIdleChannels() {
        lingerTimer = nil
        let linger = TimeAmount(configuration.subscriptionLinger)
        let now = NIODeadline.now()
        var gone: [String] = []
        var next: NIODeadline?
        for (channel, since) in idleChannels {
            if since + linger <= now {
                gone.append(channel)
            } else {
                next = min(next ?? since + linger, since + linger)
            }
        }
        for channel in gone {
            idleChannels[channel] = nil
            channelTargets[channel] = nil
            confirmedChannels.remove(channel)
        }
        if case .connected(let connection) = state { send("UNSUBSCRIBE", gone, on: connection.handler) }
        if let next { scheduleLingerCheck(in: next - now) }
    }

    /// Forgets idle channels at once (the connection is gone or closing, so they are not subscribed).
    private func dropIdleChannels() {
        lingerTimer?.cancel()
        lingerTimer = nil
        for channel in idleChannels.keys {
            channelTargets[channel] = nil
            confirmedChannels.remove(channel)
        }
        idleChannels.removeAll()
    }

    /// Ends every subscription and closes the connection.
    func close() async {
        let previous = state
        state = .closed
        reconnectTimer?.cancel()
        dropIdleChannels()
        for (id, waiter) in waiters {
            waiter.timer.cancel()
            waiter.continuation.resume(returning: .failure(RedisClientError(.closed, "the client was closed")))
            waiters[id] = nil
        }
        for entry in entries.values { entry.continuation.finish() }
        entries.removeAll()
        channelTargets.removeAll()
        patternTargets.removeAll()
        switch previous {
        case .connected(let connection):
            connection.handler.close(RedisClientError(.closed, "the client was closed", mayHaveRun: true))
            try? await connection.channel.closeFuture.get()
        case .connecting(let handler):
            // Ends the handshake now instead of leaving the socket open until the connect timeout;
            // `connectFinished` closes a connection that completes all the same.
            handler.value.close(RedisClientError(.closed, "the client was closed", mayHaveRun: false))
        case .disconnected, .closed:
            break
        }
    }

    private func send(_ name: String, _ names: [String], on handler: RedisChannelHandler) {
        guard !names.isEmpty else { return }
        if name == "SUBSCRIBE" {
            for channel in names {
                unansweredSubscribes[channel, default: 0] += 1
                subscribeSentAt[channel] = .now()
            }
        } else if name == "PSUBSCRIBE" {
            for pattern in names {
                unansweredPSubscribes[pattern, default: 0] += 1
                psubscribeSentAt[pattern] = .now()
            }
        }
        var command = RESPCommand(name)
        command.append(contentsOf: names)
        handler.sendWithoutReply(command)
    }

    /// The server refused a `SUBSCRIBE` (an ACL without the channel or the command). Redis checks
    /// every channel of the command before subscribing any, and the reply does not say which
    /// subscription it answers, so every subscription still waiting for confirmation fails with it.
    private func refused(_ error: RedisServerError) {
        logger.debug("subscription refused", metadata: ["error": "\(error.code)"])
        // Which names it answers is unknown: count no longer (the next answer confirms).
        unansweredSubscribes.removeAll()
        unansweredPSubscribes.removeAll()
        subscribeSentAt.removeAll()
        psubscribeSentAt.removeAll()
        failWaiters(.server(error))
        // Restoring the subscriptions after a reconnect was refused (the ACL changed meanwhile):
        // nothing is subscribed on this connection, so messages are being missed. Say so at once
        // with a gap, and retry on a new connection, backing off, until the server accepts again.
        if gapPending, case .connected(let connection) = state {
            deliverGap()
            connection.handler.close(
                RedisClientError(
                    .serverError, "the server refused to restore the subscriptions after a reconnect: \(error.description)",
                    serverError: error))
        }
    }

    private func failWaiters(_ error: RedisClientError) {
        let failed = waiters
        waiters.removeAll()
        for waiter in failed.values {
            waiter.timer.cancel()
            waiter.continuation.resume(returning: .failure(error))
        }
    }

    /// A wait for confirmation timed out. When the server has sent nothing on the connection for
    /// the whole command timeout since a subscribe of this wait went out unanswered, the
    /// connection is retired, as a command's deadline retires a silent command connection: it
    /// may be gone without a FIN (dropped packets), and the subscriptions it carries would miss
    /// messages, with no gap, until the keep-alive noticed. (Counted from the subscribe: a
    /// short timeout on a quiet connection says nothing about the server.)
    private func confirmationExpired(_ id: UInt64) {
        guard let waiter = waiters[id] else { return }
        endWait(id, .failure(confirmationTimedOut))
        guard case .connected(let connection) = state else { return }
        let sent =
            waiter.channels.compactMap { unansweredSubscribes[$0] == nil ? nil : subscribeSentAt[$0] }
            + waiter.patterns.compactMap { unansweredPSubscribes[$0] == nil ? nil : psubscribeSentAt[$0] }
        guard let earliest = sent.min() else { return }
        let silentSince = max(earliest, connection.handler.lastRead)
        guard NIODeadline.now() - silentSince >= TimeAmount(configuration.commandTimeout) else { return }
        logger.debug("subscription not confirmed by a silent server; retiring the connection")
        connection.handler.close(
            RedisClientError(
                .timeout, "the server sent nothing within the command timeout while a subscription waited; connection retired",
                mayHaveRun: true))
    }

    /// Ends a wait for confirmation early: timed out or cancelled.
    private func endWait(_ id: UInt64, _ result: Result<Void, RedisClientError>) {
        guard let waiter = waiters.removeValue(forKey: id) else { return }
        waiter.timer.cancel()
        waiter.continuation.resume(returning: result)
    }

    private static var cancelledWhileSubscribing: RedisClientError {
        RedisClientError(.cancelled, "cancelled while waiting for the server to confirm the subscription")
    }

    // MARK: Connection

    private func connect() {
        guard case .disconnected(let failures) = state else { return }
        var connectingHandler: RedisChannelHandler?
        let future = RedisConnector.connect(
            configuration: configuration,
            sslContext: sslContext,
            eventLoop: eventLoop,
            logger: logger
        ) { [weak self] handler in
            connectingHandler = handler
            handler.pushHandler = { [weak self] token in
                self?.assumeIsolated { $0.receive(token) }
            }
            handler.unexpectedErrorHandler = { [weak self] error in
                self?.assumeIsolated { $0.refused(error) }
            }
            let handlerID = ObjectIdentifier(handler)
            handler.onClose = { [weak self] reason in
                guard let self else { return }
                self.assumeIsolated { $0.connectionClosed(handlerID, reason: reason) }
            }
        }
        guard let connectingHandler else { return }
        state = .connecting(NIOLoopBound(connectingHandler, eventLoop: eventLoop))
        future.whenComplete { [weak self] result in
            self?.assumeIsolated { $0.connectFinished(result, failures: failures) }
        }
    }

    private func connectFinished(_ result: Result<RedisConnector.Connection, any Error>, failures: Int) {
        guard case .connecting = state else {
            if case .success(let connection) = result {
                connection.handler.close(RedisClientError(.closed, "the client was closed", mayHaveRun: true))
            }
            return
        }
        switch result {
        case .success(let connection):
            state = .connected(connection)
            failureCount.connected(after: failures)
            // Only after the handshake: in RESP2 the reply to `HELLO 2` is an array too, and taking it for a
            // pub/sub message would leave the handshake waiting until the connect timeout, on every attempt.
            connection.handler.subscriberMode = connection.protocolVersion == 2
            send("SUBSCRIBE", Array(channelTargets.keys), on: connection.handler)
            send("PSUBSCRIBE", Array(patternTargets.keys), on: connection.handler)
        case .failure(let error):
            let clientError = RedisClient.asClientError(error)
            logger.debug("subscriber connect failed", metadata: ["error": "\(clientError.code)"])
            state = .disconnected(failures: failures + 1)
            lastFailure = clientError
            // Subscriptions waiting for their first confirmation fail now, with the real cause
            // (refused connection, wrong credentials), as a command would, instead of "not
            // confirmed in time" at the command timeout. Confirmed ones wait for the reconnect.
            failWaiters(clientError)
            scheduleReconnect(failures: failures + 1)
        }
    }

    private func connectionClosed(_ handlerID: ObjectIdentifier, reason: RedisClientError) {
        guard case .connected(let connection) = state, ObjectIdentifier(connection.handler) == handlerID else { return }
        logger.debug("subscriber connection closed", metadata: ["reason": "\(reason.code)"])
        let failures = failureCount.afterClose
        state = .disconnected(failures: failures)
        lastFailure = reason
        dropIdleChannels()
        confirmedChannels.removeAll()
        confirmedPatterns.removeAll()
        unansweredSubscribes.removeAll()
        unansweredPSubscribes.removeAll()
        subscribeSentAt.removeAll()
        psubscribeSentAt.removeAll()
        if !entries.isEmpty {
            gapPending = true
            // A subscription still waiting for its confirmation returns only once it is
            // confirmed on a later connection, so it misses nothing.
            for id in entries.keys where waiters[id] == nil { entries[id]?.owesGap = true }
            scheduleReconnect(failures: failures)
        }
    }

    private func scheduleReconnect(failures: Int) {
        guard !entries.isEmpty else { return }
        let delay = configuration.reconnect.delay(afterFailures: failures)
        reconnectTimer = eventLoop.scheduleTask(in: TimeAmount(delay)) { [weak self] in
            guard let self else { return }
            self.assumeIsolated {
                $0.reconnectTimer = nil
                $0.connect()
            }
        }
    }

    // MARK: Pushes

    private func receive(_ token: RESPToken) {
        let elements: RESPToken.Array
        switch token.value {
        case .push(let array), .array(let array): elements = array
        default: return
        }
        var iterator = elements.makeIterator()
        guard let kindToken = iterator.next(), case .bulkString(let kindBytes) = kindToken.value else { return }
        let kind = String(buffer: kindBytes)
        switch kind {
        case "message":
            guard let channelToken = iterator.next(), let payloadToken = iterator.next(),
                let channel = try? channelToken.decode(as: ByteBuffer.self),
                let payload = try? payloadToken.decode(as: ByteBuffer.self)
            else { return }
            let message = RedisPubSubMessage(channel: channel, pattern: nil, payload: payload)
            deliver(message, to: channelTargets[String(buffer: channel)])
        case "pmessage":
            guard let patternToken = iterator.next(), let channelToken = iterator.next(), let payloadToken = iterator.next(),
                let pattern = try? patternToken.decode(as: String.self),
                let channel = try? channelToken.decode(as: ByteBuffer.self),
                let payload = try? payloadToken.decode(as: ByteBuffer.self)
            else { return }
            deliver(RedisPubSubMessage(channel: channel, pattern: pattern, payload: payload), to: patternTargets[pattern])
        case "subscribe":
            guard let name = iterator.next().flatMap({ try? $0.decode(as: String.self) }),
                Self.answered(name, in: &unansweredSubscribes, sentAt: &subscribeSentAt), channelTargets[name] != nil
            else { return }
            confirmedChannels.insert(name)
            confirmed(channel: name, pattern: nil)
        case "psubscribe":
            guard let name = iterator.next().flatMap({ try? $0.decode(as: String.self) }),
                Self.answered(name, in: &unansweredPSubscribes, sentAt: &psubscribeSentAt), patternTargets[name] != nil
            else { return }
            confirmedPatterns.insert(name)
            confirmed(channel: nil, pattern: name)
        default:
            return
        }
    }

    /// Counts one answer to a subscribe of `name`; true when it answers the last one sent.
    private static func answered(
        _ name: String, in unanswered: inout [String: Int], sentAt: inout [String: NIODeadline]
    ) -> Bool {
        guard let count = unanswered[name], count > 1 else {
            unanswered[name] = nil
            sentAt[name] = nil
            return true
        }
        unanswered[name] = count - 1
        return false
    }

    private func deliver(_ message: RedisPubSubMessage, to targets: Set<UInt64>?) {
        guard let targets else { return }
        for id in targets {
            guard var entry = entries[id] else { continue }
            if entry.needsGap {
                guard entry.deliver(.gap) else { continue }
                entry.needsGap = false
            }
            if !entry.deliver(.message(message)) {
                entry.needsGap = true
            }
            entries[id] = entry
        }
    }

    private func confirmed(channel: String?, pattern: String?) {
        for (id, var waiter) in waiters {
            if let channel { waiter.channels.remove(channel) }
            if let pattern { waiter.patterns.remove(pattern) }
            if waiter.channels.isEmpty && waiter.patterns.isEmpty {
                waiters[id] = nil
                waiter.timer.cancel()
                waiter.continuation.resume(returning: .success(()))
            } else {
                waiters[id] = waiter
            }
        }
        deliverGapIfRestored()
    }

    /// After a reconnect, says "gap" once everything subscribed is confirmed again: on the last
    /// confirmation, or when the last subscription still unconfirmed ends.
    private func deliverGapIfRestored() {
        guard gapPending, case .connected = state, channelTargets.count == confirmedChannels.count,
            patternTargets.count == confirmedPatterns.count
        else { return }
        gapPending = false
        deliverGap()
    }

    /// Tells every subscription that was live when the connection was lost that messages may
    /// have been missed (later, for one whose buffer is full).
    private func deliverGap() {
        for (id, var entry) in entries where entry.owesGap {
            entry.owesGap = false
            if !entry.deliver(.gap) { entry.needsGap = true }
            entries[id] = entry
        }
    }
}
