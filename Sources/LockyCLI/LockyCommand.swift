import ArgumentParser
import Foundation

/// `locky`: distributed locks on Redis from the command line.
@main
struct LockyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locky",
        abstract: "Distributed locks on Redis from the command line.",
        discussion: """
            Connects to --url, else LOCKY_URL, else LOCKY_CONFIG's url (a JSON object, see the README), \
            else redis://127.0.0.1:6379. Durations accept 500ms, \
            30s, 2m; a bare number means milliseconds.

            Output is tab-separated, one record per line (--json: one JSON object per line). In \
            names, a backslash, tab, line feed and carriage return print as \\\\, \\t, \\n and \\r, \
            other control characters as \\xHH, and a name that is just - as \\x2d: a bare - means none.

            Examples:
              locky demo                                   # a throwaway redis-server, 4 workers, 5 s
              locky run nightly-report -- ./report.sh      # like flock(1), across machines
              locky lock article:12 --locker user:20       # the locker API
              locky status --watch                         # every held lock, live

            Exit codes: 0 ok, 1 other failure, 64 usage error, 69 Redis unreachable (or no Redlock \
            quorum), 75 lock busy (not acquired), 76 lock lost (while COMMAND ran, or found gone by refresh), 77 credentials or \
            a command (ACL NOPERM) refused, 78 setting refused (e.g. database index); `run` otherwise exits with COMMAND's \
            code (126/127 not startable/found, 128+N ended or interrupted by signal N; a signal \
            sent to locky ends it by that signal, as it would end flock).
            """,
        subcommands: [
            LockSubcommand.self, UnlockSubcommand.self, RefreshSubcommand.self, HolderSubcommand.self,
            StatusSubcommand.self, WatchSubcommand.self, RunSubcommand.self, DemoSubcommand.self,
            DemoWorkerSubcommand.self,
        ]
    )

    /// Global options may also come before the subcommand (`locky --url … run …`).
    @OptionGroup var options: GlobalOptions

    /// `locky` without a subcommand is a usage error (exit 64, on standard error), as for
    /// flock(1): ArgumentParser's default printed the help and exited 0, so a script that lost
    /// its subcommand (an empty variable) seemed to succeed. `locky --help` still exits 0.
    func run() async throws {
        throw ValidationError("missing subcommand: lock, unlock, refresh, holder, status, watch, run or demo")
    }

    /// locky's entry point: before ArgumentParser sees the command line, `locky run`'s
    /// trampoline becomes COMMAND (``ExecTrampoline``); otherwise ArgumentParser's own.
    static func main() async {
        ExecTrampoline.execIfRequested()
        waitForOwnChildren()
        await main(nil)
    }

    /// locky waits for its children (`run`'s COMMAND, `demo`'s workers) to learn how they ended.
    /// A SIGCHLD ignored by locky's parent stays ignored across exec, and the kernel then reaps
    /// the children itself: every wait finds no status, and `run` exited 0 for a COMMAND that
    /// failed. The default action (nothing happens; no SA_NOCLDWAIT either) makes the kernel keep
    /// their status for locky; COMMAND gets that default too. Nothing has a handler yet to lose.
    private static func waitForOwnChildren() {
        var action = sigaction()
        action.sa_flags = 0
        sigemptyset(&action.sa_mask)
        #if os(Linux)
            action.__sigaction_handler.sa_handler = SIG_DFL
        #else
            action.__sigaction_u.__sa_handler = SIG_DFL
        #endif
        sigaction(SIGCHLD, &action, nil)
    }
}
