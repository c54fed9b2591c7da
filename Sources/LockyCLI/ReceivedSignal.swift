import Foundation

/// A signal as it reached locky, with where it came from (`siginfo_t`'s `si_code` and `si_pid`).
struct ReceivedSignal: Sendable, Equatable {
    let number: Int32
    /// `si_code`: `SI_USER` from kill(2), `SI_KERNEL` from the kernel itself (a terminal's Ctrl-C, a hang-up), …
    let code: Int32
    /// `si_pid`: the sender, for kill(2) and sigqueue(3); 0 from the kernel.
    let sender: pid_t

    /// `SI_KERNEL`: sent by the kernel (Linux's value; Darwin has none).
    static let kernelCode: Int32 = 0x80

    /// Whether the kernel sent this signal to locky's whole process group, so COMMAND (a member)
    /// got its own copy and must not get another: a terminal's Ctrl-C or Ctrl-\ (to its
    /// foreground group), a hang-up after the session leader left (to the foreground group), an
    /// orphaned group's SIGHUP. Not a hang-up that reached locky as the session leader (the
    /// terminal closed while locky led the session): the kernel sends that to the leader alone.
    ///
    /// On Linux a kill(2) counts as addressed to locky alone. `si_code` does not tell `kill PID` from
    /// `kill -- -PGID` (a shell's `kill %1`), so a signal sent to the group with kill(2) reaches
    /// COMMAND twice: directly, and from locky.
    var reachedProcessGroup: Bool {
        #if os(Linux)
            guard code == Self.kernelCode else { return false }
            if number == SIGHUP, getsid(0) == getpid() { return false }
            return true
        #else
            // No SI_KERNEL to go by: the former guess, that a SIGINT or SIGQUIT in the
            // terminal's foreground job came from the terminal.
            return (number == SIGINT || number == SIGQUIT) && Terminal.isForegroundJob
        #endif
    }
}
