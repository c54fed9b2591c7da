import Foundation
import LockyTestSupport
import Testing

/// `locky status` lists every lock Redis holds, name for name, byte for byte.
@Suite struct CLIStatusTests {
    @Test("status lists canonically equal names (NFC and NFD café) as the two locks they are")
    func canonicallyEqualNamesAreTwoLocks() async throws {
        try await withRedis { server in
            let locked = try await LockyBinary.run(["lock", "caf\u{e9}", "cafe\u{301}", "--locker", "a"], url: server.url)
            #expect(locked.status == 0, "\(locked.errorOutput)")
            #expect(try server.cli("DBSIZE") == "4", "two lock keys and two fence counters")
            let status = try await LockyBinary.run(["status"], url: server.url)
            #expect(status.status == 0)
            #expect(status.lines.count == 2, "\(status.lines)")
        }
    }

    @Test("status --watch rides out a server restart instead of exiting")
    func watchRidesOutARestart() async throws {
        try await withRedis { server in
            _ = try await LockyBinary.run(["lock", "kept", "--locker", "a"], url: server.url)
            let watching = try LockyBinary.Running(["status", "--watch"], url: server.url)
            try await watching.waitFor { $0.contains("kept\ta") }
            server.kill()
            try await Task.sleep(for: .milliseconds(1500))
            try await server.restart()
            _ = try await LockyBinary.run(["lock", "after", "--locker", "b"], url: server.url)
            try await watching.waitFor { $0.contains("after\tb") }
            watching.signal(SIGINT)
            let result = try await watching.finish()
            #expect(result.status == 0, "\(result.errorOutput)")
            #expect(result.errorOutput.contains("retrying"), "\(result.errorOutput)")
        }
    }
}
