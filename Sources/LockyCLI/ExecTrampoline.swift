import Foundation

/// How `locky run` makes COMMAND die with it on Linux. locky starts itself again
/// (`/proc/self/exe`) with ``marker`` as its first argument; that copy asks the kernel for
/// SIGKILL when its parent goes (`PR_SET_PDEATHSIG`), which survives `execvp`, and then becomes
/// COMMAND with the same pid. Without it a SIGKILLed locky would leave COMMAND running without
/// the lock once the lock's TTL ran out.
///
/// The command line: `locky <marker> <parent pid> <signals to default, comma-separated, or -> COMMAND...`.
enum ExecTrampoline {
    /// The hidden first argument (never parsed by ArgumentParser, so never in --help).
    static let marker = "--locky-internal-exec-trampoline"

    /// The trampoline's arguments for `command` (NUL-terminated bytes, left as they are).
    static func arguments(for command: [[CChar]], parent: pid_t, defaultSignals: [Int32]) -> [[CChar]] {
        let signals = defaultSignals.isEmpty ? "-" : defaultSignals.map(String.init).joined(separator: ",")
        return [
            Array("locky".utf8CString), Array(marker.utf8CString), Array(String(parent).utf8CString), Array(signals.utf8CString),
        ]
            + command
    }

    /// When locky was started as the trampoline, becomes COMMAND (or exits); otherwise returns at once.
    /// Runs before anything else in locky, on one thread from the death signal to `execvp`: the
    /// kernel keeps that setting per thread, and the thread that calls `execvp` is the one COMMAND continues.
    static func execIfRequested() {
        #if os(Linux)
            let argv = CommandLine.unsafeArgv
            guard CommandLine.argc >= 5, let flag = argv[1], String(cString: flag) == marker else { return }
            guard let parentText = argv[2], let parent = pid_t(String(cString: parentText)), let signalText = argv[3],
                let file = argv[4]
            else { fail("malformed trampoline arguments", status: 126) }
            guard setParentDeathSignal(SIGKILL) else { fail("cannot set the parent-death signal", status: 126) }
            // Set after the parent may have died: then the signal never comes, and COMMAND must not start.
            guard getppid() == parent else { _exit(126) }
            // What posix_spawn's SETSIGDEF and SETSIGMASK gave this process, again, in case
            // starting up changed anything: COMMAND gets exactly what it got before the trampoline.
            let signals = String(cString: signalText)
            if signals != "-" {
                for number in signals.split(separator: ",").compactMap({ Int32($0) }) { signal(number, SIG_DFL) }
            }
            var empty = sigset_t()
            sigemptyset(&empty)
            sigprocmask(SIG_SETMASK, &empty, nil)
            // argv[4...] is COMMAND as locky received it, NULL-terminated; the environment is the one spawned with.
            execvp(file, argv + 4)
            let error = errno
            let name = String(
                decoding: UnsafeBufferPointer(start: file, count: strlen(file)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            fail("cannot run \(name): \(String(cString: strerror(error)))", status: error == ENOENT ? 127 : 126)
        #endif
    }

    #if os(Linux)
        /// `prctl(PR_SET_PDEATHSIG, signal)`. prctl is variadic, which Swift does not import; on
        /// Linux's calling conventions (x86-64, arm64) its integer arguments travel as a
        /// fixed-argument call's do, so it is called through a fixed prototype found with dlsym.
        private static func setParentDeathSignal(_ signal: Int32) -> Bool {
            prctl(1, UInt(signal))  // PR_SET_PDEATHSIG, from <linux/prctl.h>
        }

        /// `prctl(option, value, 0, 0, 0)`; whether it succeeded.
        static func prctl(_ option: Int32, _ value: UInt) -> Bool {
            typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
            // nil: RTLD_DEFAULT, the process's global symbols.
            guard let symbol = dlsym(nil, "prctl") else { return false }
            let prctl = unsafeBitCast(symbol, to: Prctl.self)
            return prctl(option, value, 0, 0, 0) == 0
        }
    #endif

    /// Writes `locky: message` to standard error and exits with `status` (126/127, as a shell would).
    private static func fail(_ message: String, status: Int32) -> Never {
        let line = Array("locky: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        _exit(status)
    }
}
