import LockyRESP
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A multiplexed connection to one Redis server.
///
/// Many tasks share one connection: their commands are pipelined in the order they arrive and
/// the replies are matched to them in order. Commands issued in the same event-loop tick leave
/// in one write. The client connects on first use and reconnects after a failure with
/// exponential backoff and jitter.
///
/// Cancelling a task abandons its wait for the reply (or for the connection being made), not
/// the command, and never disturbs the replies of other tasks: the task gets `cancelled` with
/// ``RedisClientError/mayHaveRun`` set at once, and its command is still sent in its place. A task that is already cancelled can still send commands (so a lock
/// can be released in cleanup code); those are bounded by the command deadline.
///
/// Pub/sub uses a second, dedicated connection; see ``subscribe(channels:patterns:_:)``.
public actor RedisClient {
    /// The configuration this client was created with.
    public nonisolated let configuration: RedisConfiguration
    /// The event loop every connection of this client runs on; also the actor's executor. Pass
    /// it as another client's `eventLoopGroup` to put both on one thread (Redlock's nodes: a
    /// fan-out then wakes one thread, not several).
    public nonisolated let eventLoop: any EventLoop
    private nonisolated let logger: Logger
    /// The live connection's handler, readable without entering the actor (the fast path).
    private nonisolated let liveHandler = Mutex<NIOLoopBound<RedisChannelHandler>?>(nil)
    /// Request ids, unique per client, so a cancellation handler knows its command's id up front.
    nonisolated let requestIDs = Atomic<UInt64>(0)
    /// Loaded on every new connection before anything else (``preload(_:)``).
    private nonisolated let preloadedScripts = Mutex<[RedisScript]>([])
    /// Whether each new connection asks for the server's `run_id` (``learnServerRunID()``), and
    /// the last one learnt.
    private nonisolated let runID = Mutex<(wanted: Bool, value: String?)>((false, nil))
    private var state: State {
        didSet {
            let handler: NIOLoopBound<RedisChannelHandler>?
            if case .connected(let connection) = state { handler = connection.boundHandler } else { handler = nil }
            liveHandler.withLock { $0 = handler }
        }
    }
    /// Failed attempts before the live connection, and whether it dies young.
    private var failureCount = ConnectionFailureCount()
    /// Commands in line for the connection being made, in the order they came: sent first
    /// thing when it is up, failed when the attempt fails (``enqueue(_:)``).
    private var awaitingConnection: [RedisPendingSend] = []
    /// How many of ``preloadedScripts`` the connection being made was given.
    private var scriptsGivenToConnection = 0
    private var sslContext: NIOSSLContext?
    private var subscriberInstance: RedisSubscriber?
    /// Callers waiting out the reconnect backoff, by a number of their own: ``close()`` wakes them.
    private var backoffWaits: [UInt64: EventLoopPromise<Void>] = [:]
    private var lastBackoffWait: UInt64 = 0
    /// Completed when the first ``close()`` has closed the connections: the calls that come
    /// while it works (the actor lets them in at its waits) return only then.
    private var closing: EventLoopFuture<Void>?

    private enum State {
        case idle(failures: Int, nextAttempt: NIODeadline, lastError: RedisClientError?)
        /// The attempt, and its handler, so ``close()`` can end a handshake that a stopped server never answers.
        case connecting(EventLoopFuture<RedisConnector.Connection>, NIOLoopBound<RedisChannelHandler>)
        case connected(RedisConnector.Connection)
        case closed
    }

    /// Runs tasks on this client's event loop; see ``RedisEventLoopExecutor``.
    public nonisolated let taskExecutor: RedisEventLoopExecutor

    /// The actor runs on its event loop, so NIO callbacks and commands need no extra hop.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        eventLoop.executor.asUnownedSerialExecutor()
    }

    /// Creates a client; nothing is connected until the first command.
    ///
    /// - Parameters:
    ///   - configuration: Where and how to connect.
    ///   - eventLoopGroup: Where the connection runs; NIO's shared group by default.
    ///   - logger: Receives `debug` and `trace` messages only; never passwords or values.
    /// - Throws: ``RedisConfigurationError`` when the configuration is invalid.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "locky.redis", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws(RedisConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        self.eventLoop = eventLoopGroup.any()
        self.taskExecutor = RedisEventLoopExecutor(eventLoop: eventLoop)
        var logger = logger
        logger[metadataKey: "redis.address"] = "\(configuration.address)"
        self.logger = logger
        self.state = .idle(failures: 0, nextAttempt: .now(), lastError: nil)
    }

    /// Creates a client from a URL such as `redis://127.0.0.1:6379/0`; see ``RedisConfiguration/init(url:)``.
    public init(url: String, logger: Logger = Logger(label: "locky.redis", factory: { _ in SwiftLogNoOpLogHandler() }))
        throws(RedisConfigurationError)
    {
        try self.init(configuration: RedisConfiguration(url: url), logger: logger)
    }

    /// Runs `body` with a new client and closes the client afterwards, also when `body` throws.
    public static func withClient<T: Sendable>(
        configuration: RedisConfiguration,
        logger: Logger = Logger(label: "locky.redis", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ body: (RedisClient) async throws -> T
    ) async throws -> T {
        let client = try RedisClient(configuration: configuration, logger: logger)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    deinit {
        switch state {
        case .connected(let connection):
            connection.channel.close(promise: nil)
        case .connecting(_, let handler):
            // A caller that gave up waiting (a reply wait limit) can drop the last reference
            // while a slow handshake goes on; nobody would own the connection it completes.
            let reason = RedisClientError(.closed, "the client was dropped", mayHaveRun: false)
            eventLoop.execute { handler.value.close(reason) }
            for pending in awaitingConnection { pending.fail(reason) }
        case .idle, .closed:
            break
        }
    }

    // MARK: Commands

    /// Sends one command and returns its reply.
    ///
    /// A command whose connection closed before it was written (a kill or restart noticed
    /// between picking the connection and sending) is sent once more on a new connection;
    /// one that may have reached the server is never sent twice.
    ///
    /// - Parameters:
    ///   - command: The command.
    ///   - timeout: Deadline for the reply; the configuration's `commandTimeout` by default.
    ///     Must be positive. A deadline that passes retires the connection (the commands queued
    ///     behind on it fail with `connectionLost`): keep it above the server's usual answer time.
    ///     It also bounds the wait for a connection being made: the call then fails with `timeout`
    ///     (``RedisClientError/mayHaveRun`` set) and the command keeps its place in line.
    /// - Throws: ``RedisClientError``: `serverError` for an error reply, `timeout`,
    ///   `connectionLost` (check ``RedisClientError/mayHaveRun``), `cancelled`, `unavailable`,
    ///   `invalidArgument` (a timeout that is not positive; nothing is sent), …
    public nonisolated func execute(_ command: RESPCommand, timeout: Duration? = nil) async throws(RedisClientError) -> RESPToken
    {
        try Self.validate(timeout: timeout)
        let result = await sendNowOrWhenConnected(command, timeout: timeout)
        // The connection closed between picking it and the send (a `CLIENT KILL`, a restart):
        // nothing was written, so the command goes once more, on a new connection.
        if RedisChannelHandler.wasLostUnsent(result) {
            return try await sendNowOrWhenConnected(command, timeout: timeout).get()
        }
        return try result.get()
    }

    /// Sends `command` on the live connection, or puts it in line for the next one.
    private nonisolated func sendNowOrWhenConnected(_ command: RESPCommand, timeout: Duration?) async -> Result<
        RESPToken, RedisClientError
    > {
        // Not actor-isolated on purpose: the caller hops to the event loop once to send and
        // once back with the reply, and no further.
        if let handler = liveHandlerIfConnected { return await send(command, on: handler, timeout: timeout) }
        return await sendWhenConnected([command], timeout: timeout, coalesce: false)[0]
    }

    /// Puts `commands` in line for the connection (being) made and waits for their replies.
    ///
    /// A task cancelled during the wait returns at once with `cancelled` (``RedisClientError/mayHaveRun``
    /// set), and its commands keep their place: sent once the connection is up, replies dropped,
    /// as for a cancelled reply wait. A task that is already cancelled waits, as in ``send(_:on:timeout:)``.
    private nonisolated func sendWhenConnected(_ commands: [RESPCommand], timeout: Duration?, coalesce: Bool) async
        -> RedisPendingSend.Results
    {
        let cancelledAtStart = Task.isCancelled
        let last = requestIDs.add(UInt64(commands.count), ordering: .relaxed).newValue
        let pending = RedisPendingSend(
            commands: commands, firstID: last - UInt64(commands.count) + 1, timeout: timeout.map(TimeAmount.init),
            waitLimit: Self.replyWaitLimit.map(TimeAmount.init), coalesce: coalesce)
        do {
            try await enqueue(pending, cancelledAtStart: cancelledAtStart)
        } catch {
            return Array(repeating: .failure(error), count: commands.count)
        }
        let wait: @Sendable () async -> RedisPendingSend.Results = {
            await withCheckedContinuation { continuation in pending.whenDone { continuation.resume(returning: $0) } }
        }
        if cancelledAtStart { return await wait() }
        return await withTaskCancellationHandler {
            await wait()
        } onCancel: {
            pending.abandon()
        }
    }

    /// Refuses a per-call timeout that is not positive: it would expire at once and retire the
    /// shared connection, failing the other callers' commands queued on it.
    private static func validate(timeout: Duration?) throws(RedisClientError) {
        if let timeout, timeout <= .zero {
            throw RedisClientError(.invalidArgument, "the timeout must be positive (got \(timeout))")
        }
    }

    /// Sends `command` on `handler`'s connection and waits for its reply.
    private nonisolated func send(
        _ command: RESPCommand, on handler: NIOLoopBound<RedisChannelHandler>, timeout: Duration?
    ) async -> Result<RESPToken, RedisClientError> {
        let timeAmount = timeout.map(TimeAmount.init)
        let id = requestIDs.add(1, ordering: .relaxed).newValue
        let loop = eventLoop
        let waitLimit = Self.replyWaitLimit.map(TimeAmount.init)
        // A task that is already cancelled still sends and waits: that is how cleanup code
        // (a lock release) gets through. Cancellation during the wait abandons the wait only.
        if Task.isCancelled {
            return await withCheckedContinuation { continuation in
                loop.run {
                    handler.value.send(
                        command, id: id, to: .continuation(continuation), timeout: timeAmount, waitLimit: waitLimit)
                }
            }
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                loop.run {
                    handler.value.send(
                        command, id: id, to: .continuation(continuation), timeout: timeAmount, waitLimit: waitLimit)
                }
            }
        } onCancel: {
            loop.execute { handler.value.cancel(id) }
        }
    }

    /// Sends several commands in one write and returns one result per command, in order.
    ///
    /// Each result is the reply or that command's error; a failure of one command does not
    /// affect the others (this is a pipeline, not a transaction). `timeout` as for
    /// ``execute(_:timeout:)``: one that is not positive fails every command, none sent.
    public nonisolated func execute(batch commands: [RESPCommand], timeout: Duration? = nil) async
        -> [Result<RESPToken, RedisClientError>]
    {
        guard !commands.isEmpty else { return [] }
        do {
            try Self.validate(timeout: timeout)
        } catch {
            return Array(repeating: .failure(error), count: commands.count)
        }
        var results: [Result<RESPToken, RedisClientError>] = []
        // Twice at most: the second time when the connection closed before any of it was
        // written (as for ``execute(_:timeout:)``).
        for _ in 0..<2 {
            if let handler = liveHandlerIfConnected {
                results = await send(batch: commands, on: handler, timeout: timeout)
            } else {
                results = await sendWhenConnected(commands, timeout: timeout, coalesce: true)
            }
            // One write: unsent, all of it was.
            guard RedisChannelHandler.wasLostUnsent(results[0]) else { break }
        }
        return results
    }

    /// Sends `commands` on `handler`'s connection in one write and waits for their replies.
    private nonisolated func send(
        batch commands: [RESPCommand], on handler: NIOLoopBound<RedisChannelHandler>, timeout: Duration?
    ) async -> [Result<RESPToken, RedisClientError>] {
        let timeAmount = timeout.map(TimeAmount.init)
        let last = requestIDs.add(UInt64(commands.count), ordering: .relaxed).newValue
        let first = last - UInt64(commands.count) + 1
        let loop = eventLoop
        let waitLimit = Self.replyWaitLimit.map(TimeAmount.init)
        let send: @Sendable () async -> [Result<RESPToken, RedisClientError>] = {
            await withCheckedContinuation { continuation in
                loop.run {
                    let collector = RedisBatchCollector(count: commands.count, continuation: continuation)
                    for (index, command) in commands.enumerated() {
                        let id = first + UInt64(index)
                        // The wait limit as for single commands (a Redlock node's script reload waits no
                        // longer than the node timeout).
                        handler.value.send(
                            command, id: id, to: .batch(collector, index: index), timeout: timeAmount, waitLimit: waitLimit,
                            coalesce: true)
                    }
                }
            }
        }
        if Task.isCancelled { return await send() }
        return await withTaskCancellationHandler {
            await send()
        } onCancel: {
            loop.execute {
                for id in first...last { handler.value.cancel(id) }
            }
        }
    }

    /// Loads `scripts` on this connection now and on every connection after a reconnect, before
    /// any other command: `EVALSHA` then never meets an empty script cache (a restarted server),
    /// which matters when a command's reply is not waited for (a release sent to a slow Redlock
    /// node would otherwise fail there with `NOSCRIPT`, unseen).
    public nonisolated func preload(_ scripts: [RedisScript]) {
        let added = preloadedScripts.withLock { loaded in
            let new = scripts.filter { script in !loaded.contains { $0.sha1 == script.sha1 } }
            loaded.append(contentsOf: new)
            return new
        }
        guard !added.isEmpty, let handler = liveHandler.withLock({ $0 }) else { return }
        eventLoop.run {
            for script in added { handler.value.send(script.loadCommand, to: nil) }
        }
    }

    /// Asks the server for its `run_id` (`INFO server`) now and on every connection after a
    /// reconnect, ahead of any other command of that connection: ``serverRunID`` is known
    /// before the reply to any command sent later, at no extra round trip (the `INFO` reply is
    /// not waited for). Redlock uses it to tell one server under two addresses from two servers.
    ///
    /// A server that refuses `INFO` (an ACL without `+info`) leaves ``serverRunID`` nil; that is
    /// logged at debug, nothing fails.
    public nonisolated func learnServerRunID() {
        let first = runID.withLock { state in
            defer { state.wanted = true }
            return !state.wanted
        }
        guard first, let handler = liveHandler.withLock({ $0 }) else { return }
        eventLoop.run { self.askRunID(on: handler.value) }
    }

    /// The `run_id` of the server (``learnServerRunID()``): of the current connection, or of the
    /// last one while reconnecting; nil before it is known, or when the server refuses `INFO`.
    public nonisolated var serverRunID: String? { runID.withLock { $0.value } }

    /// Sends `INFO server` on `handler` (on the event loop); the reply sets ``serverRunID``.
    private nonisolated func askRunID(on handler: RedisChannelHandler) {
        let promise = eventLoop.makePromise(of: RESPToken.self)
        handler.send(RedisServerRunID.command, to: .promise(promise))
        // Completed on the event loop as the reply is read, before the next reply on this
        // connection: whoever gets a later reply sees the run_id.
        promise.futureResult.whenComplete { result in
            switch result {
            case .success(let reply):
                let value = RedisServerRunID.parse(reply)
                self.runID.withLock { $0.value = value }
            case .failure(let error as RedisClientError) where error.serverError != nil:
                self.runID.withLock { $0.value = nil }
                self.logger.debug(
                    "INFO refused; the server's run_id is unknown",
                    metadata: ["error": "\(error.serverError?.code.rawValue ?? "")"])
            case .failure:
                // The connection went away; the next one asks again.
                break
            }
        }
    }

    /// Runs a script with `EVALSHA`; on `NOSCRIPT` loads it and retries exactly once, in one write.
    ///
    /// - Parameters:
    ///   - script: The script (its SHA-1 must match the command's).
    ///   - command: Built with ``RedisScript/evalSHA(keyCount:)`` plus keys and arguments.
    ///   - timeout: Deadline for the reply (on `NOSCRIPT`, for the load and the retry); the
    ///     configuration's `commandTimeout` by default.
    public nonisolated func run(_ script: RedisScript, _ command: RESPCommand, timeout: Duration? = nil)
        async throws(RedisClientError)
        -> RESPToken
    {
        do {
            return try await execute(command, timeout: timeout)
        } catch  where error.serverError?.code == .noscript {
            logger.debug("script not in the server's cache; loading it", metadata: ["redis.script": "\(script.name)"])
            let results = await execute(batch: [script.loadCommand, command], timeout: timeout)
            // A script that does not compile makes the retry fail with NOSCRIPT again; the load's error says why.
            if case .failure(let loadError) = results[0], loadError.code == .serverError {
                throw loadError
            }
            return try results[1].get()
        }
    }

    /// Closes the connections; commands in flight fail with ``RedisClientError/Code/closed``.
    /// Idempotent: every call, also one made while another is closing, returns once the
    /// connections are closed.
    public func close() async {
        if let closing {
            try? await closing.get()
            return
        }
        let closed = eventLoop.makePromise(of: Void.self)
        closing = closed.futureResult
        defer { closed.succeed(()) }
        let previous = state
        state = .closed
        failAwaitingConnection(RedisClientError(.closed, "the client is closed"))
        // Callers waiting for the next connection attempt learn at once that there is none.
        for wait in backoffWaits.values { wait.succeed(()) }
        // Both connections close at once: a stopped TLS server makes each wait out the TLS
        // shutdown timeout, which one after the other doubled.
        async let subscriberClosed: Void? = subscriberInstance?.close()
        switch previous {
        case .connected(let connection):
            connection.handler.close(RedisClientError(.closed, "the client was closed", mayHaveRun: true))
            try? await connection.channel.closeFuture.get()
        case .connecting(let future, let handler):
            // Ends the handshake now instead of waiting out the connect timeout (a stopped server).
            handler.value.close(RedisClientError(.closed, "the client was closed", mayHaveRun: false))
            if let connection = try? await future.get() {
                connection.handler.close(RedisClientError(.closed, "the client was closed", mayHaveRun: true))
                try? await connection.channel.closeFuture.get()
            }
        case .idle, .closed:
            break
        }
        _ = await subscriberClosed
    }

    // MARK: Pub/sub

    /// Subscribes to channels and patterns on the dedicated subscriber connection, runs `body`
    /// with the stream of messages, and unsubscribes when `body` returns or throws.
    ///
    /// When this returns control to `body`, the server has confirmed every subscription, so a
    /// message published from then on is delivered. After a reconnect the subscriptions are
    /// restored and the stream yields ``RedisSubscriptionEvent/gap`` (messages may have been missed).
    public nonisolated func subscribe<T: Sendable>(
        channels: [String],
        patterns: [String] = [],
        _ body: (RedisSubscription) async throws -> T
    ) async throws -> T {
        try await withSubscription(channels: channels, patterns: patterns, timeout: nil, handler: nil, body)
    }

    /// Subscribes like ``subscribe(channels:patterns:_:)``, but hands each event to `handler`
    /// on the connection's event loop as it arrives, with no task hop and no buffering: for
    /// wake-ups that must be fast. `handler` must be quick and must not block.
    ///
    /// `timeout` bounds the wait for the server's confirmation (the command timeout by default).
    public nonisolated func subscribe<T: Sendable>(
        channels: [String],
        patterns: [String] = [],
        timeout: Duration? = nil,
        handler: @escaping @Sendable (RedisSubscriptionEvent) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withSubscription(channels: channels, patterns: patterns, timeout: timeout, handler: handler) { _ in
            try await body()
        }
    }

    /// Subscribes, runs `body`, and always unsubscribes afterwards.
    private nonisolated func withSubscription<T: Sendable>(
        channels: [String],
        patterns: [String],
        timeout: Duration?,
        handler: (@Sendable (RedisSubscriptionEvent) -> Void)?,
        _ body: (RedisSubscription) async throws -> T
    ) async throws -> T {
        let subscriber: RedisSubscriber
        let subscription: RedisSubscription
        if eventLoop.inEventLoop {
            // On the loop (where waits run): register in place, no hops through the actors'
            // queues; only a channel the server has yet to confirm costs a wait.
            let registered = try Self.registerOnLoop(self, channels: channels, patterns: patterns, handler: handler)
            subscriber = registered.subscriber
            if let pending = registered.pending {
                subscription = try await subscriber.confirm(registered.subscription, pending: pending, timeout: timeout)
            } else {
                subscription = registered.subscription
            }
        } else {
            subscriber = try await self.subscriber()
            subscription = try await subscriber.subscribe(
                channels: channels, patterns: patterns, timeout: timeout, handler: handler)
        }
        do {
            let result = try await body(subscription)
            await Self.unsubscribe(subscription.id, from: subscriber)
            return result
        } catch {
            await Self.unsubscribe(subscription.id, from: subscriber)
            throw error
        }
    }

    /// Ends a subscription; on the subscriber's event loop (where waits run), without the two
    /// hops through the actor's queue that an `await` costs: a wait that ends returns sooner.
    private static func unsubscribe(_ id: UInt64, from subscriber: RedisSubscriber) async {
        if subscriber.eventLoop.inEventLoop {
            unsubscribeOnLoop(id, from: subscriber)
        } else {
            await subscriber.unsubscribe(id)
        }
    }

    /// Gets the subscriber and registers a subscription in place; only on the event loop (the
    /// executor of both actors).
    private static func registerOnLoop(
        _ client: RedisClient,
        channels: [String],
        patterns: [String],
        handler: (@Sendable (RedisSubscriptionEvent) -> Void)?
    ) throws(RedisClientError) -> (
        subscriber: RedisSubscriber, subscription: RedisSubscription, pending: RedisSubscriber.Unconfirmed?
    ) {
        let subscriber = try client.assumeIsolated { client in
            Result { () throws(RedisClientError) in try client.subscriber() }
        }.get()
        let (subscription, pending) = try subscriber.assumeIsolated { subscriber in
            Result { () throws(RedisClientError) in
                try subscriber.register(channels: channels, patterns: patterns, handler: handler)
            }
        }.get()
        return (subscriber, subscription, pending)
    }

    /// Runs the subscriber's `unsubscribe` in place; only on its event loop (its executor).
    private static func unsubscribeOnLoop(_ id: UInt64, from subscriber: RedisSubscriber) {
        subscriber.assumeIsolated { $0.unsubscribe(id) }
    }

    private func subscriber() throws(RedisClientError) -> RedisSubscriber {
        if case .closed = state { throw RedisClientError(.closed, "the client is closed") }
        if let subscriberInstance { return subscriberInstance }
        let subscriber = RedisSubscriber(
            configuration: configuration,
            eventLoop: eventLoop,
            sslContext: try loadSSLContext(),
            logger: logger
        )
        subscriberInstance = subscriber
        return subscriber
    }

    // MARK: Connection state

    private func loadSSLContext() throws(RedisClientError) -> NIOSSLContext? {
        guard let tls = configuration.tls else { return nil }
        if let sslContext { return sslContext }
        let context = try RedisConnector.makeSSLContext(tls)
        sslContext = context
        return context
    }

    /// The live connection's handler, without waiting; nil while not connected.
    nonisolated var liveHandlerIfConnected: NIOLoopBound<RedisChannelHandler>? { liveHandler.withLock { $0 } }

    /// Sends `pending` on the live connection now, or puts it in line for the connection being
    /// made (started here when there is none); waits only for a reconnect backoff. Throws, with
    /// nothing sent, when there is no connection to wait for (closed, backing off too long, the
    /// task cancelled during the backoff).
    ///
    /// `cancelledAtStart`: the calling task was cancelled before it called (a cleanup, such as a
    /// release after a cancelled acquire); it waits out the backoff like any caller, so that its
    /// command is still sent.
    func enqueue(_ pending: RedisPendingSend, cancelledAtStart: Bool) async throws(RedisClientError) {
        let bound = [pending.timeout, pending.waitLimit].compactMap { $0 }.min()
        _ = try await connectionOrAttempt(
            within: bound.map { Duration.nanoseconds($0.nanoseconds) }, cancelledAtStart: cancelledAtStart)
        // Decided on the state as it is now: returning from that call can suspend (a task with
        // an executor preference), and a `close()` or the attempt's end can come in between.
        switch state {
        case .connected(let connection):
            pending.send(on: connection.handler)
            return
        case .closed:
            throw RedisClientError(.closed, "the client is closed")
        case .idle(_, _, let lastError):
            throw lastError ?? RedisClientError(.unavailable, "not connected")
        case .connecting:
            awaitingConnection.append(pending)
        }
        // The call's timeout and its reply wait limit (``withReplyWaitLimit(_:_:)``) count from
        // here: a server that accepts connections but never answers the handshake (a stopped
        // process) must not cost the whole connect timeout. As for a reply, the command keeps its
        // place (`.zero`: sent in its place, not waited for), so whatever is sent after it reaches
        // the server after it.
        if let amount = bound {
            eventLoop.scheduleTask(in: amount) {
                pending.giveUpUnlessSent(
                    with: RedisClientError(
                        .timeout, "not connected within \(amount.nanoseconds / 1_000_000) ms", mayHaveRun: true))
            }
        }
    }

    /// The live connection's handler, or nil once a connection attempt is under way (started
    /// here when due); waits only out a reconnect backoff, and no longer than `bound` (the call's
    /// timeout or reply wait limit) or the command timeout. See ``enqueue(_:cancelledAtStart:)``.
    private func connectionOrAttempt(within bound: Duration?, cancelledAtStart: Bool) async throws(RedisClientError)
        -> NIOLoopBound<RedisChannelHandler>?
    {
        // However the attempts go (a server that accepts, then drops every connection), a caller
        // waits no longer than its patience for a connection: never a hang.
        let patience = min(configuration.commandTimeout, bound ?? configuration.commandTimeout)
        let giveUpAt = NIODeadline.now() + TimeAmount(patience)
        while true {
            if NIODeadline.now() > giveUpAt, case .idle(let failures, _, let lastError) = state {
                throw RedisClientError(
                    .unavailable,
                    "no usable connection within \(patience) after \(failures) failed attempt(s): \(lastError?.message ?? "unknown error")",
                    underlying: lastError
                )
            }
            switch state {
            case .connected(let connection):
                return connection.boundHandler
            case .closed:
                throw RedisClientError(.closed, "the client is closed")
            case .connecting:
                return nil
            case .idle(let failures, let nextAttempt, let lastError):
                let now = NIODeadline.now()
                if nextAttempt > now {
                    let wait = nextAttempt - now
                    if !cancelledAtStart, Task.isCancelled {
                        throw RedisClientError(.cancelled, "the calling task was cancelled while reconnecting")
                    }
                    if now + wait > giveUpAt {
                        throw RedisClientError(
                            .unavailable,
                            "reconnecting after \(failures) failed attempt(s): \(lastError?.message ?? "unknown error")",
                            underlying: lastError
                        )
                    }
                    await waitForAttempt(at: nextAttempt, ignoringCancellation: cancelledAtStart)
                    continue
                }
                try startConnecting(failures: failures)
            }
        }
    }

    /// Waits until `deadline`, the next connection attempt; less when the task is cancelled
    /// (unless `ignoringCancellation`: a task that came cancelled) or the client is closed (a
    /// sleep would hold the caller for the rest of the backoff).
    private func waitForAttempt(at deadline: NIODeadline, ignoringCancellation: Bool) async {
        let wake = eventLoop.makePromise(of: Void.self)
        lastBackoffWait &+= 1
        let id = lastBackoffWait
        backoffWaits[id] = wake
        let timer = eventLoop.scheduleTask(deadline: deadline) { wake.succeed(()) }
        // Completing it twice (the timer, then close or cancel) is harmless: the first one counts.
        if ignoringCancellation {
            try? await wake.futureResult.get()
        } else {
            await withTaskCancellationHandler {
                try? await wake.futureResult.get()
            } onCancel: {
                wake.succeed(())
            }
        }
        timer.cancel()
        backoffWaits[id] = nil
    }

    /// Starts a connection attempt; throws (after scheduling the next attempt) when the TLS files cannot be loaded,
    /// so the caller gets that error instead of waiting in the backoff loop.
    private func startConnecting(failures: Int) throws(RedisClientError) {
        let sslContext: NIOSSLContext?
        do {
            sslContext = try loadSSLContext()
        } catch {
            let delay = configuration.reconnect.delay(afterFailures: failures + 1)
            state = .idle(failures: failures + 1, nextAttempt: .now() + TimeAmount(delay), lastError: error)
            throw error
        }
        let scripts = preloadedScripts.withLock { $0 }
        scriptsGivenToConnection = scripts.count
        var connectingHandler: RedisChannelHandler?
        let future = RedisConnector.connect(
            configuration: configuration,
            sslContext: sslContext,
            eventLoop: eventLoop,
            logger: logger,
            scripts: scripts
        ) { [weak self] handler in
            connectingHandler = handler
            let handlerID = ObjectIdentifier(handler)
            handler.onClose = { [weak self] reason in
                guard let self else { return }
                self.assumeIsolated { $0.connectionClosed(handlerID, reason: reason) }
            }
        }
        guard let connectingHandler else { return }
        state = .connecting(future, NIOLoopBound(connectingHandler, eventLoop: eventLoop))
        future.whenComplete { [weak self] result in
            guard let self else { return }
            self.assumeIsolated { $0.connectFinished(result, failures: failures) }
        }
    }

    private func connectFinished(_ result: Result<RedisConnector.Connection, any Error>, failures: Int) {
        guard case .connecting = state else {
            // Closed while connecting.
            if case .success(let connection) = result {
                connection.handler.close(RedisClientError(.closed, "the client was closed", mayHaveRun: true))
            }
            return
        }
        switch result {
        case .success(let connection):
            failureCount.connected(after: failures)
            let waiting = awaitingConnection
            awaitingConnection = []
            state = .connected(connection)
            // Scripts preloaded while this connection was being made: ``preload(_:)`` found no
            // live connection then. Read after the connection became live, so none is missed
            // (one may be loaded twice, which is harmless).
            let added = preloadedScripts.withLock { $0.dropFirst(scriptsGivenToConnection) }
            for script in added { connection.handler.send(script.loadCommand, to: nil) }
            // Read after the connection became live, as above: a ``learnServerRunID()`` that
            // found no live connection is served here.
            if runID.withLock({ $0.wanted }) { askRunID(on: connection.handler) }
            // In line behind those, ahead of anything sent from now on: a caller that stopped
            // waiting may already have sent a release after its acquire here.
            for pending in waiting { pending.send(on: connection.handler) }
        case .failure(let error):
            let clientError = Self.asClientError(error)
            let delay = configuration.reconnect.delay(afterFailures: failures + 1)
            logger.debug(
                "connect failed",
                metadata: ["error": "\(clientError.code)", "redis.retry_in_ms": "\(delay.nanoseconds / 1_000_000)"]
            )
            state = .idle(failures: failures + 1, nextAttempt: .now() + TimeAmount(delay), lastError: clientError)
            failAwaitingConnection(clientError)
        }
    }

    /// Fails the commands in line for a connection that will not come; none was sent.
    private func failAwaitingConnection(_ error: RedisClientError) {
        let waiting = awaitingConnection
        awaitingConnection = []
        for pending in waiting { pending.fail(error) }
    }

    private func connectionClosed(_ handlerID: ObjectIdentifier, reason: RedisClientError) {
        guard case .connected(let connection) = state, ObjectIdentifier(connection.handler) == handlerID else { return }
        logger.debug("connection closed", metadata: ["reason": "\(reason.code)"])
        // Reconnect on the next command, at once, unless the server dropped the connection right
        // after its handshake (``ConnectionFailureCount``).
        let failures = reason.code == .connectionLost ? failureCount.afterClose : 0
        guard failures > 0 else {
            state = .idle(failures: 0, nextAttempt: .now(), lastError: reason)
            return
        }
        let delay = configuration.reconnect.delay(afterFailures: failures)
        state = .idle(failures: failures, nextAttempt: .now() + TimeAmount(delay), lastError: reason)
    }

    static func asClientError(_ error: any Error) -> RedisClientError {
        if let error = error as? RedisClientError { return error }
        return RedisClientError(.connectionFailed, "\(error)", underlying: SendableErrorBox(error))
    }
}
