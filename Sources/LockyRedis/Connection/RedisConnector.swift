import LockyRESP
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Opens one connection and performs the handshake, all on NIO futures so that a reconnect can
/// be driven from an event-loop timer without an unstructured task.
///
/// The handshake goes out in one write: `HELLO 3 [AUTH user password] [SETNAME name]` and
/// `SELECT db`. A server without `HELLO` gets the RESP2 sequence (`AUTH`, `CLIENT SETNAME`,
/// `SELECT`) instead. The whole thing, TCP and TLS included, is bounded by the connect timeout.
enum RedisConnector {
    /// A ready connection.
    struct Connection: Sendable {
        let channel: any Channel
        let boundHandler: NIOLoopBound<RedisChannelHandler>
        /// The handler; only on the event loop.
        var handler: RedisChannelHandler { boundHandler.value }
        /// 3 after a successful `HELLO 3`, else 2.
        let protocolVersion: Int
    }

    /// How long closing a TLS connection waits for the server's close_notify. By then every
    /// command on it has failed, so the reply is a courtesy; a live server sends it within a round
    /// trip, a stopped one never, and NIOSSL's default (5 s) made `close()` wait that long per
    /// connection.
    static let tlsShutdownTimeout = TimeAmount.milliseconds(250)

    static func makeSSLContext(_ tls: RedisTLSConfiguration) throws(RedisClientError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        // Each file on its own: NIOSSL's error (`failedToLoadCertificate`) names no file, and an
        // operator with `ca`, `cert` and `key` must learn which one is missing or not PEM.
        if let ca = tls.caCertificateFile {
            configuration.trustRoots = .certificates(
                try loadTLSFile("ca", ca, "no PEM certificate") { try NIOSSLCertificate.fromPEMFile(ca) })
        }
        if let certificateFile = tls.certificateFile, let keyFile = tls.keyFile {
            configuration.certificateChain = try loadTLSFile("cert", certificateFile, "no PEM certificate") {
                try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
            }
            configuration.privateKey = .privateKey(
                try loadTLSFile("key", keyFile, "no unencrypted PEM private key") {
                    try NIOSSLPrivateKey(file: keyFile, format: .pem)
                })
        }
        switch tls.verification {
        case .full: configuration.certificateVerification = .fullVerification
        case .noHostname: configuration.certificateVerification = .noHostnameVerification
        case .insecureNoVerification: configuration.certificateVerification = .none
        }
        configuration.shutdownTimeout = tlsShutdownTimeout
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RedisClientError(
                .tlsFailure, "cannot load the TLS configuration: \(error)", underlying: SendableErrorBox(error))
        }
    }

    /// Loads one TLS file; a failure names the URL option and the path (paths are not secret).
    private static func loadTLSFile<T>(
        _ option: String, _ path: String, _ expected: String, _ load: () throws -> T
    ) throws(RedisClientError) -> T {
        do {
            return try load()
        } catch {
            throw RedisClientError(
                .tlsFailure,
                "cannot load \(option)=\(path): \(error) (the file is missing, unreadable, or holds \(expected))",
                underlying: SendableErrorBox(error))
        }
    }

    static func connect(
        configuration: RedisConfiguration,
        sslContext: NIOSSLContext?,
        eventLoop: any EventLoop,
        logger: Logger,
        scripts: [RedisScript] = [],
        prepare: @escaping (RedisChannelHandler) -> Void
    ) -> EventLoopFuture<Connection> {
        let started = NIODeadline.now()
        let deadline = started + TimeAmount(configuration.connectTimeout)
        let address = configuration.address
        let handler = RedisChannelHandler(eventLoop: eventLoop, configuration: configuration, logger: logger)
        prepare(handler)
        let boundHandler = NIOLoopBound(handler, eventLoop: eventLoop)
        let serverName: String? = {
            guard configuration.tls != nil else { return nil }
            if let name = configuration.tls?.serverName { return name }
            // SNI cannot carry an IP address; NIOSSL then checks the IP against the certificate's SANs.
            guard case .tcp(let host, _) = address, !isIPAddress(host) else { return nil }
            return host
        }()

        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                do {
                    if let sslContext {
                        let tlsHandler = try NIOSSLClientHandler(context: sslContext, serverHostname: serverName)
                        try channel.pipeline.syncOperations.addHandler(tlsHandler)
                    }
                    try channel.pipeline.syncOperations.addHandler(boundHandler.value)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }

        let connected: EventLoopFuture<any Channel>
        switch address {
        case .tcp(let host, let port):
            connected = bootstrap.connect(host: host, port: port)
        case .unixSocket(let path):
            connected = bootstrap.connect(unixDomainSocketPath: path)
        }

        return connected.flatMapError { error in
            eventLoop.makeFailedFuture(
                RedisClientError(.connectionFailed, "cannot connect to \(address): \(error)", underlying: SendableErrorBox(error))
            )
        }.flatMap { channel in
            handshake(
                channel: channel, handler: boundHandler, configuration: configuration, deadline: deadline, eventLoop: eventLoop
            )
            .flatMapError { error in
                channel.close(promise: nil)
                return eventLoop.makeFailedFuture(classify(error, address: address, tls: configuration.tls != nil))
            }
            .map { version in
                // Ahead of every command of the connection's users, so EVALSHA finds its scripts
                // even on a server that restarted empty (replies and errors are dropped).
                for script in scripts { boundHandler.value.send(script.loadCommand, to: nil) }
                logger.debug(
                    "connected",
                    metadata: [
                        "redis.address": "\(address)", "redis.protocol": "\(version)",
                        "redis.connect_ms": "\(Double((NIODeadline.now() - started).nanoseconds) / 1e6)",
                    ]
                )
                return Connection(channel: channel, boundHandler: boundHandler, protocolVersion: version)
            }
        }
    }

    /// Sends the handshake; succeeds with the protocol version.
    private static func handshake(
        channel: any Channel,
        handler: NIOLoopBound<RedisChannelHandler>,
        configuration: RedisConfiguration,
        deadline: NIODeadline,
        eventLoop: any EventLoop
    ) -> EventLoopFuture<Int> {
        let remaining = max(deadline - .now(), .milliseconds(1))

        var hello = RESPCommand("HELLO")
        hello.append(configuration.preferRESP3 ? 3 : 2)
        if let password = configuration.password {
            hello.append("AUTH")
            hello.append(configuration.username ?? "default")
            hello.append(password)
        }
        if let name = configuration.clientName {
            hello.append("SETNAME")
            hello.append(name)
        }
        let helloPromise = eventLoop.makePromise(of: RESPToken.self)
        handler.value.send(hello, to: .promise(helloPromise), timeout: remaining)
        let selectResult: EventLoopFuture<RESPToken>? =
            configuration.database == 0
            ? nil : sendSelect(handler: handler.value, configuration: configuration, timeout: remaining, eventLoop: eventLoop)

        return helloPromise.futureResult.flatMap { _ in
            let version = configuration.preferRESP3 ? 3 : 2
            guard let selectResult else { return eventLoop.makeSucceededFuture(version) }
            return selectResult.map { _ in version }
        }.flatMapError { error in
            guard let clientError = error as? RedisClientError, let serverError = clientError.serverError,
                isUnknownCommand(serverError)
            else {
                // Wait for the pipelined SELECT to settle so its reply is not left behind.
                return (selectResult?.map { _ in () } ?? eventLoop.makeSucceededVoidFuture())
                    .flatMapErrorThrowing { _ in () }
                    .flatMapThrowing { throw error }
            }
            // Redis before 6 has no HELLO: use RESP2 commands, pipelined too.
            let settled = selectResult?.map { _ in () }.flatMapErrorThrowing { _ in () } ?? eventLoop.makeSucceededVoidFuture()
            return settled.flatMap {
                resp2Handshake(handler: handler.value, configuration: configuration, deadline: deadline, eventLoop: eventLoop)
            }.map { 2 }
        }
    }

    private static func resp2Handshake(
        handler: RedisChannelHandler,
        configuration: RedisConfiguration,
        deadline: NIODeadline,
        eventLoop: any EventLoop
    ) -> EventLoopFuture<Void> {
        let remaining = max(deadline - .now(), .milliseconds(1))
        var futures: [EventLoopFuture<RESPToken>] = []
        if let password = configuration.password {
            var auth = RESPCommand("AUTH")
            if let username = configuration.username { auth.append(username) }
            auth.append(password)
            let promise = eventLoop.makePromise(of: RESPToken.self)
            handler.send(auth, to: .promise(promise), timeout: remaining)
            futures.append(promise.futureResult)
        }
        if let name = configuration.clientName {
            var setName = RESPCommand("CLIENT")
            setName.append("SETNAME")
            setName.append(name)
            let promise = eventLoop.makePromise(of: RESPToken.self)
            handler.send(setName, to: .promise(promise), timeout: remaining)
            futures.append(promise.futureResult)
        }
        if configuration.database != 0 {
            futures.append(sendSelect(handler: handler, configuration: configuration, timeout: remaining, eventLoop: eventLoop))
        }
        return EventLoopFuture.whenAllSucceed(futures, on: eventLoop).map { _ in () }
    }

    private static func sendSelect(
        handler: RedisChannelHandler,
        configuration: RedisConfiguration,
        timeout: TimeAmount,
        eventLoop: any EventLoop
    ) -> EventLoopFuture<RESPToken> {
        var select = RESPCommand("SELECT")
        select.append(configuration.database)
        let promise = eventLoop.makePromise(of: RESPToken.self)
        handler.send(select, to: .promise(promise), timeout: timeout)
        let database = configuration.database
        return promise.futureResult.flatMapErrorThrowing { error in
            // An error reply to SELECT is the server refusing the database index (it has fewer
            // databases, or the ACL forbids SELECT): a setting to fix, not a server to retry.
            guard let serverError = (error as? RedisClientError)?.serverError else { throw error }
            throw RedisClientError(
                .configurationRejected, "refused database \(database): \(serverError)", serverError: serverError)
        }
    }

    private static func isUnknownCommand(_ error: RedisServerError) -> Bool {
        // `ERR unknown command` is the one answer Redis has no dedicated code for, so its text is
        // matched here, and only here: any other ERR (`max number of clients reached`) is a
        // failed handshake, not a server without HELLO.
        if error.code == .noproto { return true }
        return error.code == .err && error.message.lowercased().hasPrefix("unknown command")
    }

    private static func classify(_ error: any Error, address: RedisAddress, tls: Bool) -> RedisClientError {
        if let clientError = error as? RedisClientError {
            if clientError.code == .configurationRejected {
                return RedisClientError(
                    .configurationRejected, "\(address) \(clientError.message)", serverError: clientError.serverError)
            }
            if let serverError = clientError.serverError {
                switch serverError.code {
                case .wrongpass, .noauth:
                    return RedisClientError(
                        .authenticationFailed,
                        "\(address) refused the credentials: \(serverError.code.rawValue)",
                        serverError: serverError
                    )
                case .noperm:
                    // The credentials were accepted; the user lacks a command the handshake needs.
                    return RedisClientError(
                        .connectionFailed,
                        "handshake with \(address) failed: the user may not run a handshake command (\(serverError))",
                        serverError: serverError
                    )
                default:
                    return RedisClientError(
                        .connectionFailed,
                        "handshake with \(address) failed: \(serverError)",
                        serverError: serverError
                    )
                }
            }
            if tls, clientError.code == .connectionLost {
                return RedisClientError(
                    .tlsFailure,
                    "TLS handshake with \(address) failed: \(clientError.message)",
                    underlying: clientError.underlying
                )
            }
            // A malformed handshake reply is a failed connection attempt too: the caller's command was never sent.
            if clientError.code == .timeout || clientError.code == .connectionLost || clientError.code == .protocolError {
                // A server without TLS waits for the end of a line that the ClientHello never sends.
                let hint =
                    tls && clientError.code == .timeout ? " (is the server on that port speaking TLS? rediss:// needs it)" : ""
                return RedisClientError(
                    .connectionFailed,
                    "handshake with \(address) failed: \(clientError.message)\(hint)",
                    underlying: clientError.underlying
                )
            }
            return clientError
        }
        return RedisClientError(.connectionFailed, "cannot connect to \(address): \(error)", underlying: SendableErrorBox(error))
    }

    /// True for an IPv4 or IPv6 literal, which SNI cannot carry.
    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
    }
}
