import Foundation
import Synchronization

/// A real redis-server process on a free loopback port, in its own temporary directory, without persistence unless
/// asked.
///
/// The server runs in the foreground as a child of the test process (never daemonized), so ``pid`` is the server
/// itself. Lifecycle methods (``kill()``, ``restart()``, ``stop()``) are meant to be called from one task at a time.
/// A server dropped without ``stop()`` is killed in `deinit`, so a forgotten server does not outlive its test.
public final class RedisServer: Sendable {
    /// The address the server listens on: always `127.0.0.1`.
    public let host = "127.0.0.1"
    /// How the server was started.
    public let options: Options
    /// The temporary folder holding redis.conf, the log, the pid file and (with persistence) the data.
    public let directory: String

    private let serverExecutable: String
    private let tlsMaterial: TLSMaterial?
    private let state: Mutex<State>

    private struct State {
        var port: Int
        var child: ChildProcess?
        var lastPID: Int32 = 0
    }

    private static let readyMessage = "Ready to accept connections"
    private static let portTakenMessage = "Address already in use"

    private init(options: Options, directory: String, serverExecutable: String, tlsMaterial: TLSMaterial?) {
        self.options = options
        self.directory = directory
        self.serverExecutable = serverExecutable
        self.tlsMaterial = tlsMaterial
        self.state = Mutex(State(port: 0))
    }

    deinit {
        // Last line of defence against leaked processes; stop() has normally run already and left nothing to do.
        if let child = state.withLock({ $0.child }) {
            child.send(SIGKILL)
            child.waitForExit(timeout: .seconds(5))
            OrphanRegistry.unregister(pid: child.pid)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The port the server listens on (the TLS port for TLS servers); it stays the same across restarts.
    public var port: Int { state.withLock { $0.port } }

    /// The pid of the current server process; it changes on restart. After a kill or stop it is the pid of the last
    /// process, which no longer exists.
    public var pid: Int32 { state.withLock { $0.lastPID } }

    /// Whether a server process is currently running (possibly paused).
    public var isRunning: Bool { state.withLock { $0.child.map { !$0.hasExited } ?? false } }

    /// `redis://127.0.0.1:PORT`, or `rediss://127.0.0.1:PORT` for TLS; never contains credentials.
    public var url: String { "\(options.tls ? "rediss" : "redis")://\(host):\(port)" }

    // MARK: - Starting

    /// Starts a server and waits until it accepts connections.
    ///
    /// Readiness is read from the server log ("Ready to accept connections"), polled every 5 ms with a 10 s limit.
    /// Should the free port be taken by someone else before the server binds it, another port is tried.
    /// - Throws: ``RedisHarnessError`` when redis-server is not installed or does not start; the message then holds
    ///   the tail of the server log.
    public static func start(_ options: Options = Options()) async throws(RedisHarnessError) -> RedisServer {
        let executable = try ToolLocator.path(of: "redis-server")
        let tlsMaterial = options.tls ? try TLSMaterial.shared() : nil
        let directory = FileManager.default.temporaryDirectory.path + "/locky-redis-\(UUID().uuidString.prefix(12))"
        let server = RedisServer(
            options: options,
            directory: directory,
            serverExecutable: executable,
            tlsMaterial: tlsMaterial
        )
        do {
            try await server.launch(keepingPort: false)
        } catch {
            await server.stop()
            throw error
        }
        return server
    }

    /// Starts a server, runs `body` with it and always stops it afterwards, also when `body` throws.
    public static func withServer<T>(
        _ options: Options = Options(),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (RedisServer) async throws -> T
    ) async throws -> T {
        let server = try await start(options)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Starts `count` independent servers concurrently (e.g. for Redlock tests). If one fails, the others are stopped
    /// and the first error is thrown.
    public static func startMany(
        _ count: Int,
        _ options: Options = Options()
    ) async throws(RedisHarnessError) -> [RedisServer] {
        let results = await withTaskGroup(of: Result<RedisServer, RedisHarnessError>.self) { group in
            for _ in 0..<count {
                group.addTask {
                    do throws(RedisHarnessError) {
                        return .success(try await start(options))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var results: [Result<RedisServer, RedisHarnessError>] = []
            for await result in group {
                results.append(result)
            }
            return results
        }
        var servers: [RedisServer] = []
        var firstError: RedisHarnessError?
        for result in results {
            switch result {
            case .success(let server): servers.append(server)
            case .failure(let error): firstError = firstError ?? error
            }
        }
        if let firstError {
            for server in servers {
                await server.stop()
            }
            throw firstError
        }
        return servers
    }

    // MARK: - Controlling the process

    /// Kills the server with SIGKILL and waits until the process has been reaped.
    public func kill() {
        guard let child = takeChild() else { return }
        child.send(SIGKILL)
        child.waitForExit(timeout: .seconds(10))
        OrphanRegistry.unregister(pid: child.pid)
    }

    /// Freezes the server with SIGSTOP: connections stay open but nothing is answered until ``resume()``.
    public func pause() {
        state.withLock { $0.child }?.setStopped(true)
    }

    /// Lets a paused server run again (SIGCONT).
    public func resume() {
        state.withLock { $0.child }?.setStopped(false)
    }

    /// Starts the server again on the same port with the same configuration.
    ///
    /// Works after ``kill()`` and after ``stop()``; a running server is stopped first. Without persistence the server
    /// comes back empty. If the port cannot be bound yet, binding is retried for up to 5 s.
    public func restart() async throws(RedisHarnessError) {
        await terminate()
        try await launch(keepingPort: true)
    }

    /// Stops the server (SIGTERM, up to 5 s grace, then SIGKILL), reaps it and removes its temporary folder.
    ///
    /// Idempotent, and works on a paused server (it is continued first so it can handle SIGTERM).
    public func stop() async {
        await terminate()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func terminate() async {
        guard let child = takeChild() else { return }
        child.send(SIGTERM)
        child.send(SIGCONT)
        if await !child.waitForExit(timeout: .seconds(5)) {
            child.send(SIGKILL)
            await child.waitForExit(timeout: .seconds(10))
        }
        OrphanRegistry.unregister(pid: child.pid)
    }

    private func takeChild() -> ChildProcess? {
        state.withLock { state in
            defer { state.child = nil }
            return state.child
        }
    }

    // MARK: - Launching

    private func launch(keepingPort: Bool) async throws(RedisHarnessError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RedisHarnessError(.setupFailed, "Could not create \(directory): \(error)")
        }
        let retryDeadline = ContinuousClock.now + .seconds(5)
        var attempts = 0
        while true {
            attempts += 1
            let port = keepingPort ? self.port : try FreePort.next()
            let failure: String
            do {
                try await launchOnce(port: port)
                return
            } catch {
                failure = error.message
            }
            let portTaken = failure.contains(Self.portTakenMessage)
            if portTaken && !keepingPort && attempts < 20 {
                continue
            }
            if portTaken && keepingPort && ContinuousClock.now < retryDeadline {
                await ChildProcess.pause(milliseconds: 50)
                continue
            }
            throw RedisHarnessError(.startFailed, failure)
        }
    }

    private func launchOnce(port: Int) async throws(RedisHarnessError) {
        let configurationPath = directory + "/redis.conf"
        let logPath = directory + "/redis.log"
        let configuration = RedisConfigurationFile.render(
            options: options,
            port: port,
            directory: directory,
            tls: tlsMaterial
        )
        do {
            try configuration.write(toFile: configurationPath, atomically: true, encoding: .utf8)
        } catch {
            throw RedisHarnessError(.setupFailed, "Could not write \(configurationPath): \(error)")
        }
        // The log is appended to across restarts; only what this process writes counts.
        let logOffset = Self.contents(of: logPath).count

        let child = try ChildProcess.spawn(
            executable: serverExecutable,
            arguments: [configurationPath],
            directory: directory,
            standardErrorPath: directory + "/stderr.log"
        )
        OrphanRegistry.register(pid: child.pid, serverDirectory: directory)
        state.withLock {
            $0.port = port
            $0.child = child
            $0.lastPID = child.pid
        }

        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let log = Self.contents(of: logPath).dropFirst(logOffset)
            if log.contains(Self.readyMessage) {
                return
            }
            if child.hasExited || ContinuousClock.now >= deadline {
                let reason =
                    child.hasExited
                    ? "exited with status \(child.terminationStatus ?? -1)"
                    : "did not become ready within 10 s"
                kill()
                let standardError = Self.contents(of: directory + "/stderr.log")
                throw RedisHarnessError(
                    .startFailed,
                    "redis-server on 127.0.0.1:\(port) \(reason). Configuration: \(configurationPath)\n"
                        + "Log tail:\n\(Self.tail(String(log)))\(standardError.isEmpty ? "" : "\nstderr:\n")"
                        + Self.tail(standardError)
                )
            }
            await ChildProcess.pause(milliseconds: 5)
        }
    }

    private static func contents(of path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    private static func tail(_ text: String, lines: Int = 20) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    // MARK: - redis-cli

    /// Runs redis-cli against this server with the given arguments, authenticated as configured by
    /// ``Options/password``, and returns its trimmed standard output.
    /// - Throws: ``RedisHarnessError`` when redis-cli exits non-zero, which includes error replies (it runs with `-e`).
    @discardableResult
    public func cli(_ arguments: String...) throws(RedisHarnessError) -> String {
        try cli(arguments: arguments)
    }

    /// Runs redis-cli against this server and returns its trimmed standard output.
    ///
    /// Useful for assertions that do not depend on Locky's own client. TLS flags (CA, client certificate) are added
    /// for TLS servers. Error replies make redis-cli exit non-zero (`-e`), so they throw, with the reply in the message.
    /// - Parameters:
    ///   - arguments: The command and its arguments.
    ///   - user: An ACL user to log in as (`--user`/`--pass`) instead of the default user.
    ///   - password: The password of `user`, or of the default user when `user` is nil; when both are nil the
    ///     default user's ``Options/password`` is used.
    ///   - authenticate: Pass false to connect without any credentials (e.g. to see NOAUTH).
    ///   - timeout: How long redis-cli may run before it is killed and an error is thrown.
    @discardableResult
    public func cli(
        arguments: [String],
        user: String? = nil,
        password: String? = nil,
        authenticate: Bool = true,
        timeout: Duration = .seconds(10)
    ) throws(RedisHarnessError) -> String {
        let executable = try ToolLocator.path(of: "redis-cli")
        var connection = ["-h", host, "-p", String(port), "-e", "--no-auth-warning"]
        if let user {
            connection += ["--user", user, "--pass", password ?? ""]
        } else if let password = password ?? (authenticate ? options.password : nil) {
            connection += ["-a", password]
        }
        if let tlsMaterial {
            connection += [
                "--tls", "--cacert", tlsMaterial.caCertificatePath,
                "--cert", tlsMaterial.clientCertificatePath, "--key", tlsMaterial.clientKeyPath,
            ]
        }
        let shown = arguments.joined(separator: " ")
        let result = try ChildProcess.run(
            executable,
            connection + arguments,
            timeout: timeout,
            // Credentials are left out of messages on purpose.
            displayName: "redis-cli \(shown) against \(url)"
        )
        guard result.status == 0 else {
            let details = (result.errorOutput + result.output).trimmingCharacters(in: .whitespacesAndNewlines)
            throw RedisHarnessError(
                .commandFailed, "redis-cli \(shown) against \(url) failed (exit \(result.status)): \(details)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
