import Foundation
import LockyTestSupport
import Testing

/// Signals to `locky run` beyond SIGINT and SIGTERM.
@Suite struct CLISignalTests {
    /// A closed terminal or SSH session sends SIGHUP. It used to end locky at once (its default
    /// action) and leave COMMAND running without the lock, the lock held until its TTL ran out;
    /// now COMMAND gets it, and the lock is released once COMMAND exits.
    @Test("SIGHUP to locky run reaches COMMAND, and the lock is released when COMMAND exits")
    func hangUpIsForwarded() async throws {
        try await withRedis { server in
            let running = try LockyBinary.Running(
                [
                    "run", "hup", "--ttl", "10s", "--", "sh", "-c",
                    "trap 'echo got-hup; kill $!; exit 3' HUP; echo started; sleep 30 & wait",
                ],
                url: server.url)
            try await running.waitFor { $0.contains("started") }
            running.signal(SIGHUP)
            let result = try await running.finish(timeout: .seconds(10))
            #expect(result.status == 3, "\(result.errorOutput)")
            #expect(result.output.contains("got-hup"))
            #expect(try server.cli("EXISTS", "locky:{hup}") == "0")
        }
    }

    /// A caller that signals locky sees it die of that signal, as it would see flock(1) or
    /// timeout(1) die (`$?` shows 128+N either way); a COMMAND that killed itself with a signal
    /// locky never got is reported as the shell reports it, 128+N, by locky's exit status.
    @Test("SIGTERM to locky run, forwarded, kills COMMAND: locky dies of SIGTERM after releasing the lock")
    func forwardedSignalEndsLockyToo() async throws {
        try await withRedis { server in
            let running = try LockyBinary.Running(
                ["run", "term-death", "--ttl", "10s", "--", "sh", "-c", "echo started; exec sleep 30"], url: server.url)
            try await running.waitFor { $0.contains("started") }
            running.signal(SIGTERM)
            let result = try await running.finish(timeout: .seconds(10))
            #expect(running.process.terminationReason == .uncaughtSignal, "exited \(result.status): \(result.errorOutput)")
            #expect(result.status == SIGTERM, "\(result.errorOutput)")
            #expect(try server.cli("EXISTS", "locky:{term-death}") == "0")

            let suicide = try await LockyBinary.run(["run", "self-kill", "--", "sh", "-c", "kill -TERM $$"], url: server.url)
            #expect(suicide.status == 143, "\(suicide.errorOutput)")
        }
    }
}
