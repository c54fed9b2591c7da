import Dispatch
import Foundation
import Synchronization

/// A COMMAND started by `locky run` with posix_spawn: default signal actions and an empty signal mask in
/// the child (Swift's worker threads block signals and `locky run` ignores SIGINT/SIGTERM itself; neither
/// may leak into COMMAND), standard streams inherited.
final class SpawnedCommand: Sendable {
    /// The child's pid.
    let pid: pid_t

    private struct State {
        var exited = false
        var status: Int32?
        var signal: Int32?
        var waiters: [CheckedContinuation<Int32, Never>] = []
        /// Set by ``terminate(grace:)``: when the SIGKILL is due, and to which of COMMAND's processes.
        var termination: (killAt: ContinuousClock.Instant, started: [ProcessTree.Member])?
    }
    private let state = Mutex(State())

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// Why COMMAND could not be started, with the shell's exit code for it (127 not found, 126 not runnable).
    struct LaunchError: Error {
        let status: Int32
        let message: String
    }

    /// The signals locky itself handles or ignores (SIGINT, SIGTERM, SIGHUP and SIGQUIT for the
    /// relay, SIGPIPE for NIO), and which of them were ignored when locky started.
    struct InheritedSignals: Sendable {
        static let changedByLocky: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE]
        let ignored: Set<Int32>

        /// Reads the current dispositions; call before locky changes any.
        static func capture() -> InheritedSignals {
            var ignored: Set<Int32> = []
            for number in changedByLocky {
                var current = sigaction()
                if sigaction(number, nil, &current) == 0, isIgnore(current) { ignored.insert(number) }
            }
            return InheritedSignals(ignored: ignored)
        }

        /// Whether the action is SIG_IGN (the handler value 1, on Linux and Darwin alike).
        private static func isIgnore(_ action: sigaction) -> Bool {
            #if os(Linux)
                let handler = unsafeBitCast(action.__sigaction_handler, to: UInt.self)
            #else
                let handler = unsafeBitCast(action.__sigaction_u, to: UInt.self)
            #endif
            return handler == 1
        }
    }

    /// Starts `arguments[0]` (searched in PATH) with `arguments` and `environment`, NUL-terminated
    /// bytes (``CommandBytes``: not necessarily UTF-8). The signals locky changed get back the
    /// disposition locky inherited (default, or ignored); every other one is left as inherited
    /// (`nohup`'s ignored SIGHUP stays ignored). On Linux COMMAND is started through
    /// ``ExecTrampoline``, so that it is SIGKILLed when locky dies; a command that cannot be
    /// started then ends with 127/126 and the trampoline's message instead of a ``LaunchError``.
    static func spawn(
        _ arguments: [[CChar]], environment: [[CChar]], signals: InheritedSignals
    ) async throws(LaunchError) -> SpawnedCommand {
        guard !arguments.isEmpty else { throw LaunchError(status: 127, message: "no command given") }
        let started = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<SpawnedCommand, LaunchError>, Never>) in
            // A thread of its own that spawns, then reaps, and so lives exactly as long as
            // COMMAND: the death signal fires when the *thread* that started COMMAND ends, not
            // the process. A Swift concurrency thread ends after 5 idle seconds (libdispatch's
            // pool), which would kill COMMAND mid-run; the main thread runs the main actor's
            // jobs and must not block in waitid.
            Thread.detachNewThread {
                Thread.current.name = "locky-command"
                let pid: pid_t
                do throws(LaunchError) {
                    pid = try launch(arguments, environment: environment, signals: signals)
                } catch {
                    continuation.resume(returning: .failure(error))
                    return
                }
                let command = SpawnedCommand(pid: pid)
                continuation.resume(returning: .success(command))
                command.reap()
            }
        }
        return try started.get()
    }

    /// posix_spawn of COMMAND (through the trampoline on Linux); its pid.
    private static func launch(
        _ arguments: [[CChar]], environment: [[CChar]], signals: InheritedSignals
    ) throws(LaunchError) -> pid_t {
        guard let first = arguments.first else { throw LaunchError(status: 127, message: "no command given") }
        let executable = String(decoding: first.prefix { $0 != 0 }.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        let defaulted = InheritedSignals.changedByLocky.filter { !signals.ignored.contains($0) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in defaulted { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        #if os(Linux)
            let argumentBytes = ExecTrampoline.arguments(for: arguments, parent: getpid(), defaultSignals: defaulted)
            let path = Array("/proc/self/exe".utf8CString)
        #else
            let argumentBytes = arguments
            let path = first
        #endif
        let argv = argumentBytes.map { bytes in bytes.withUnsafeBufferPointer { $0.baseAddress.flatMap(strdup) } }
        let envp = environment.map { bytes in bytes.withUnsafeBufferPointer { $0.baseAddress.flatMap(strdup) } }
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid = pid_t()
        let result = path.withUnsafeBufferPointer { file -> Int32 in
            guard let path = file.baseAddress else { return EINVAL }
            #if os(Linux)
                return posix_spawn(&pid, path, nil, &attributes, argv + [nil], envp + [nil])
            #else
                return posix_spawnp(&pid, path, nil, &attributes, argv + [nil], envp + [nil])
            #endif
        }
        guard result == 0 else {
            let reason = String(cString: strerror(result))
            throw LaunchError(status: result == ENOENT ? 127 : 126, message: "cannot run \(executable): \(reason)")
        }
        return pid
    }

    /// Waits for the child (on the thread that spawned it); it is marked exited before the pid is
    /// reaped, so ``send(_:)`` never signals a recycled pid.
    private func reap() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0, errno == EINTR {}
        state.withLock { $0.exited = true }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let code = Self.exitCode(fromWaitStatus: status)
        let signal = status & 0x7f
        let waiters = state.withLock { state in
            state.status = code
            state.signal = signal == 0 ? nil : signal
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: code) }
    }

    /// The shell's convention: the exit status, or 128 + the signal that ended the process.
    static func exitCode(fromWaitStatus status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// The signal that ended the child, once it has exited by one (its exit code is then 128 + it).
    var terminationSignal: Int32? { state.withLock { $0.signal } }

    /// Sends `signal` unless the child has already exited.
    func send(_ signal: Int32) {
        state.withLock { state in
            if !state.exited { _ = kill(pid, signal) }
        }
    }

    /// Sends SIGTERM now and SIGKILL after `grace` if it is still running then, to COMMAND and
    /// to every process it started (``ProcessTree``), as found now and again then.
    /// ``finishTermination()`` sends that SIGKILL to those still running once COMMAND is gone.
    func terminate(grace: Duration) {
        // From now on, what COMMAND leaves behind (also what it starts as it shuts down) is
        // adopted by locky, so the SIGKILL below and finishTermination() still find it.
        ProcessTree.adoptOrphans()
        let started = ProcessTree.ownDescendants(except: pid)
        let killAt = ContinuousClock.now + grace
        state.withLock { state in
            let earlier = state.termination
            state.termination = (min(earlier?.killAt ?? killAt, killAt), (earlier?.started ?? []) + started)
        }
        send(SIGTERM)
        ProcessTree.signal(started, SIGTERM)
        let nanoseconds = Int(grace.components.seconds) * 1_000_000_000 + Int(grace.components.attoseconds / 1_000_000_000)
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
            // Those started since, also those COMMAND left behind as it exited (adopted by locky).
            let later = ProcessTree.ownDescendants(except: pid)
            send(SIGKILL)
            ProcessTree.signal(started + later, SIGKILL)
        }
    }

    /// After ``terminate(grace:)`` and COMMAND's exit: waits until the processes COMMAND had
    /// started are gone, or else until their SIGKILL is due and sends it (to theirs too). The
    /// timer in ``terminate(grace:)`` dies with locky, which exits once COMMAND has: a process that
    /// ignored the SIGTERM would run on without the lock. Not cancellable (a lost lock cancels
    /// the caller), so the SIGKILL always goes out.
    func finishTermination() async {
        guard let (killAt, started) = state.withLock({ $0.termination }) else { return }
        let command = pid
        await Task.detached {
            while true {
                // Also one COMMAND started after the SIGTERM (while it shut down) and left
                // behind: not in `started`, but adopted by locky when COMMAND exited.
                let found = Set(started).union(ProcessTree.ownDescendants(except: command))
                let survivors = Array(found.filter(ProcessTree.isRunning))
                if survivors.isEmpty { return }
                if ContinuousClock.now >= killAt {
                    ProcessTree.signal(survivors + ProcessTree.descendants(of: survivors.map(\.pid)), SIGKILL)
                    return
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }.value
    }

    /// Waits until the child has exited and returns its exit code; when the waiting task is cancelled, the
    /// child is terminated (SIGTERM, then SIGKILL after `grace`) and still waited for.
    func waitForExit(terminatingOnCancelAfter grace: Duration) async -> Int32 {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let status = state.withLock { state -> Int32? in
                    if let status = state.status { return status }
                    state.waiters.append(continuation)
                    return nil
                }
                if let status { continuation.resume(returning: status) }
            }
        } onCancel: {
            terminate(grace: grace)
        }
    }
}
