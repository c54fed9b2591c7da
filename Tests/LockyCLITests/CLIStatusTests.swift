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
}
