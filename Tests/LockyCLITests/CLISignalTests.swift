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
}
