import Foundation
import LockyTestSupport
import Testing

/// `locky run` passes COMMAND's exit status on, whatever signal dispositions it inherited.
@Suite struct CLIReviewExitStatusTests {
    /// A parent that ignores SIGCHLD (a daemon that does not reap, Perl's `$SIG{CHLD}='IGNORE'`)
    /// passes that on through exec; the kernel then reaps locky's children itself and locky's
    /// wait found no status: `locky run` exited 0 for a COMMAND that exited 3, was killed, or
    /// was not found.
    @Test(
        "started with SIGCHLD ignored, locky run still exits with COMMAND's status",
        arguments: [(["sh", "-c", "exit 3"], 3), (["sh", "-c", "kill -TERM $$"], 143), (["/nonexistent/command"], 127)]
            as [([String], Int32)]
    )
    func ignoredChildSignal(command: [String], expected: Int32) async throws {
        // An outer locky run (started as usual) starts the inner one through env, and passes its status on.
        let result = try await LockyBinary.run(
            [
                "run", "chld", "--url", "memory://", "--", "env", "--ignore-signal=CHLD", LockyBinary.path,
                "run", "inner", "--url", "memory://", "--",
            ] + command)
        #expect(result.status == expected, "\(result.errorOutput)")
    }
}
