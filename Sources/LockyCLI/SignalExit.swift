import Foundation

/// Ends locky by a signal, as coreutils' `timeout` does when its command was killed. A shell
/// that got a Ctrl-C while waiting for locky goes on with its script when locky *exits* 130
/// (the command "handled" the interrupt, the shell assumes) and stops it only when locky *dies*
/// of SIGINT, as flock(1) does; the caller's `$?` is 128+N either way.
enum SignalExit {
    /// Ends the process by `signal` with its default action (no core file for SIGQUIT: locky
    /// did not crash); exits `128 + signal` should the signal not end it.
    static func end(by signal: Int32) -> Never {
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        #if os(Linux)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
        #else
            _ = setrlimit(RLIMIT_CORE, &noCore)
        #endif
        Foundation.signal(signal, SIG_DFL)
        // Swift's threads block signals; raise(3) delivers to this thread, so unblock it here.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        sigaddset(&unblocked, signal)
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
        raise(signal)
        exit(128 + signal)
    }
}
