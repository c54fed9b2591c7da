import Foundation
import LockyTestSupport
import Testing

/// The text output is tab-separated, one record per line, whatever the names hold: tabs, line
/// breaks, backslashes and other controls in resource and holder names are escaped (`\t`, `\n`,
/// `\r`, `\\`, `\xHH`), and a name that is exactly `-` is `\x2d`, so a bare `-` always means none.
/// JSON output escapes as JSON does and keeps every name byte for byte.
@Suite struct CLITextOutputTests {
    /// Names a shell script could meet; every one a valid resource (1 to 512 bytes, no hash tag).
    static let names = [
        "tab\there", "line\nfeed", "carriage\rreturn", "crlf\r\nend", "back\\slash", "\\t is not a tab",
        "bell\u{07}esc\u{1B}[31mdel\u{7F}", "-", "trailing\t", "quote\"s and 'single'", "emoji 🔒 \u{1F600}",
        "caf\u{E9}", "cafe\u{301}", "line\u{2028}separator", "-starts-with-dash",
    ]
    static let locker = "ed\titor\n\\x"

    /// The fields of each line of `output`, unescaped (nil for a field that is no valid escape).
    /// Split as bytes: as Characters, "\r\n" would be one and not a line break.
    static func records(_ output: String) -> [[String?]] {
        Array(output.utf8).split(separator: 0x0A, omittingEmptySubsequences: false).dropLast().map { line in
            line.split(separator: 0x09, omittingEmptySubsequences: false).map { unescape(Array($0)) }
        }
    }

    /// The README's escapes, decoded independently of the CLI's code.
    static func unescape(_ field: [UInt8]) -> String? {
        var bytes: [UInt8] = []
        var index = 0
        while index < field.count {
            let byte = field[index]
            index += 1
            if byte < 0x20 || byte == 0x7F { return nil }  // a control must never be written as it is
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                continue
            }
            guard index < field.count else { return nil }
            let escape = field[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "x"):
                guard index + 2 <= field.count,
                    let value = UInt8(String(decoding: field[index..<index + 2], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
                index += 2
            default: return nil
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Byte-for-byte equality: `==` on Strings would call NFC and NFD "café" equal.
    static func same(_ left: String?, _ right: String?) -> Bool {
        left.map { Array($0.utf8) } == right.map { Array($0.utf8) }
    }

    /// Each expected name appears exactly once among `found` (byte for byte).
    static func expectEachNameOnce(_ found: [String?], _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for name in names {
            #expect(
                found.filter { same($0, name) }.count == 1, "\(name.debugDescription) in \(context)",
                sourceLocation: sourceLocation)
        }
        #expect(found.count == names.count, "\(context)", sourceLocation: sourceLocation)
    }

    @Test("lock, holder, status, unlock and refresh print one line of the documented fields per name, names escaped")
    func lockerSubcommands() async throws {
        try await withRedis { server in
            let lock = try await LockyBinary.run(
                ["lock", "--locker", Self.locker, "--ttl", "1m", "--"] + Self.names, url: server.url)
            #expect(lock.status == 0, "\(lock.errorOutput)")
            let locked = Self.records(lock.output)
            #expect(
                locked.allSatisfy { $0.count == 3 && $0[1] == "acquired" && $0[2] == "token 1" },
                "\(lock.output.debugDescription)")
            Self.expectEachNameOnce(locked.map { $0.first ?? nil }, "lock: \(lock.output.debugDescription)")

            let holder = try await LockyBinary.run(["holder", "--"] + Self.names + ["free"], url: server.url)
            let holders = Self.records(holder.output)
            #expect(holders.count == Self.names.count + 1, "\(holder.output.debugDescription)")
            #expect(
                holders.dropLast().allSatisfy { $0.count == 2 && Self.same($0[1], Self.locker) },
                "\(holder.output.debugDescription)")
            #expect(holders.last.map { $0 == ["free", "-"] } == true, "\(holder.output.debugDescription)")
            Self.expectEachNameOnce(holders.dropLast().map { $0.first ?? nil }, "holder: \(holder.output.debugDescription)")

            let status = try await LockyBinary.run(["status"], url: server.url)
            let held = Self.records(status.output)
            #expect(
                held.allSatisfy { $0.count == 4 && Self.same($0[1], Self.locker) && $0[3] == "1" },
                "\(status.output.debugDescription)")
            Self.expectEachNameOnce(held.map { $0.first ?? nil }, "status: \(status.output.debugDescription)")

            let busy = try await LockyBinary.run(["lock", "--locker", "other", "--"] + Self.names, url: server.url)
            #expect(busy.status == 75)
            let busyLines = Self.records(busy.output)
            #expect(
                busyLines.allSatisfy { $0.count == 5 && $0[1] == "busy" && Self.same($0[2], Self.locker) && $0[3] == "token 1" },
                "\(busy.output.debugDescription)")
            Self.expectEachNameOnce(busyLines.map { $0.first ?? nil }, "busy: \(busy.output.debugDescription)")

            for subcommand in ["refresh", "unlock"] {
                let refused = try await LockyBinary.run([subcommand, "--locker", "other", "--"] + Self.names, url: server.url)
                let lines = Self.records(refused.output)
                #expect(
                    lines.allSatisfy {
                        $0.count == 5 && $0[1] == "held-by-another" && Self.same($0[2], Self.locker) && $0[3] == "-"
                    },
                    "\(subcommand): \(refused.output.debugDescription)")
                Self.expectEachNameOnce(lines.map { $0.first ?? nil }, "\(subcommand): \(refused.output.debugDescription)")
            }

            let unlock = try await LockyBinary.run(["unlock", "--"] + Self.names, url: server.url)
            let unlocked = Self.records(unlock.output)
            #expect(unlocked.allSatisfy { $0.count == 2 && $0[1] == "unlocked" }, "\(unlock.output.debugDescription)")
            Self.expectEachNameOnce(unlocked.map { $0.first ?? nil }, "unlock: \(unlock.output.debugDescription)")
            #expect(try server.cli("DBSIZE") == "\(Self.names.count)", "only the fence counters are left")
        }
    }

    @Test("a holder named - is not shown as the - of a free resource")
    func holderNamedDash() async throws {
        try await withRedis { server in
            _ = try await LockyBinary.run(["lock", "taken", "--locker", "-"], url: server.url)
            let holder = try await LockyBinary.run(["holder", "taken", "free"], url: server.url)
            #expect(holder.lines == ["taken\t\\x2d", "free\t-"])
        }
    }

    /// A busy line left out the remaining time of a lock without expiry, and a held-by-another
    /// line had it only with an expiry: a field's position depended on the lock's TTL.
    @Test("a line that names a holder always goes on with its token and remaining time, - and no expiry included")
    func holderLinesHaveFixedFields() async throws {
        try await withRedis { server in
            _ = try await LockyBinary.run(["lock", "forever", "--locker", "a"], url: server.url)
            _ = try await LockyBinary.run(["lock", "minute", "--locker", "a", "--ttl", "1m"], url: server.url)
            let busy = try await LockyBinary.run(["lock", "forever", "minute", "--locker", "b"], url: server.url)
            #expect(busy.status == 75)
            #expect(busy.lines.first == "forever\tbusy\ta\ttoken 1\tno expiry", "\(busy.output)")
            #expect(busy.lines.last?.split(separator: "\t").count == 5, "\(busy.output)")
            for subcommand in ["unlock", "refresh"] {
                let refused = try await LockyBinary.run([subcommand, "forever", "minute", "--locker", "b"], url: server.url)
                #expect(refused.lines.first == "forever\theld-by-another\ta\t-\tno expiry", "\(refused.output)")
                let minute = refused.lines.last?.split(separator: "\t", omittingEmptySubsequences: false) ?? []
                #expect(minute.count == 5 && minute.last?.hasSuffix("s") == true, "\(refused.output)")
            }
        }
    }

    @Test("watch prints one line of the documented fields per event, names escaped")
    func watchLines() async throws {
        try await withRedis { server in
            let watching = try LockyBinary.Running(["watch"], url: server.url)
            try await watching.waitFor { $0.contains("watching lock events") }
            let lock = try await LockyBinary.run(
                ["lock", "--locker", Self.locker, "--ttl", "100ms", "--"] + Self.names, url: server.url)
            #expect(lock.status == 0, "\(lock.errorOutput)")
            try await watching.waitFor { output in
                Self.records(output).filter { $0.count > 1 && $0[1] == "expired" }.count >= Self.names.count
            }
            watching.signal(SIGINT)
            let result = try await watching.finish()
            let events = Self.records(result.output)
            let locked = events.filter { $0.count > 1 && $0[1] == "locked" }
            let expired = events.filter { $0.count > 1 && $0[1] == "expired" }
            #expect(events.count == locked.count + expired.count, "\(result.output.debugDescription)")
            #expect(locked.allSatisfy { $0.count == 5 && Self.same($0[3], Self.locker) && $0[4] == "100ms" })
            #expect(expired.allSatisfy { $0.count == 3 })
            Self.expectEachNameOnce(locked.map { $0[2] }, "locked: \(result.output.debugDescription)")
            Self.expectEachNameOnce(expired.map { $0[2] }, "expired: \(result.output.debugDescription)")
        }
    }

    /// One JSON line of any subcommand.
    struct JSONLine: Decodable {
        var resource: String?
        var holder: String?
        var locker: String?
        var outcome: String?
        var event: String?
    }

    /// The JSON lines of `output` (standard error's `locky: …` lines left out).
    static func jsonLines(_ output: String) throws -> [JSONLine] {
        try Array(output.utf8).split(separator: 0x0A).filter { $0.first == UInt8(ascii: "{") }
            .map { try JSONDecoder().decode(JSONLine.self, from: Data($0)) }
    }

    @Test("--json escapes tabs, line breaks, quotes and backslashes and keeps every name byte for byte (NFC and NFD apart)")
    func json() async throws {
        try await withRedis { server in
            let lock = try await LockyBinary.run(["lock", "--json", "--locker", Self.locker, "--"] + Self.names, url: server.url)
            let locked = try Self.jsonLines(lock.output)
            #expect(locked.allSatisfy { $0.outcome == "acquired" })
            Self.expectEachNameOnce(locked.map(\.resource), "lock --json: \(lock.output)")

            let holder = try await LockyBinary.run(["holder", "--json", "--"] + Self.names, url: server.url)
            let holders = try Self.jsonLines(holder.output)
            #expect(holders.allSatisfy { $0.outcome == "held" && Self.same($0.holder, Self.locker) })
            Self.expectEachNameOnce(holders.map(\.resource), "holder --json: \(holder.output)")

            let status = try await LockyBinary.run(["status", "--json"], url: server.url)
            let held = try Self.jsonLines(status.output)
            #expect(held.allSatisfy { Self.same($0.holder, Self.locker) })
            Self.expectEachNameOnce(held.map(\.resource), "status --json: \(status.output)")

            let watching = try LockyBinary.Running(["watch", "--json"], url: server.url)
            try await watching.waitFor { $0.contains("watching lock events") }
            _ = try await LockyBinary.run(["unlock", "--"] + Self.names, url: server.url)
            try await watching.waitFor { output in
                ((try? Self.jsonLines(output)) ?? []).filter { $0.event == "unlocked" }.count >= Self.names.count
            }
            watching.signal(SIGINT)
            let result = try await watching.finish()
            let events = try Self.jsonLines(result.output)
            Self.expectEachNameOnce(events.map(\.resource), "watch --json: \(result.output)")
        }
    }
}
