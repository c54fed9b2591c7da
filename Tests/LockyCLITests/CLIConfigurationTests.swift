import LockyTestSupport
import Testing

/// `LOCKY_CONFIG`'s defaults reach the CLI; options given on the command line win.
@Suite struct CLIConfigurationTests {
    @Test("lock, refresh and run take ttl, lockerTTL and label from LOCKY_CONFIG unless given")
    func configurationDefaults() async throws {
        try await withRedis { server in
            let config = ["LOCKY_CONFIG": #"{"url":"\#(server.url)","ttl":"7s","lockerTTL":"1m","label":"worker-1"}"#]
            let locked = try await LockyBinary.run(["lock", "cf1", "--locker", "u"], environment: config)
            #expect(locked.status == 0, "\(locked.errorOutput)")
            let lockerTTL = Int(try server.cli("PTTL", "locky:{cf1}")) ?? -1
            #expect(lockerTTL > 55_000 && lockerTTL <= 60_000, "PTTL \(lockerTTL): lockerTTL not applied")

            _ = try server.cli("PEXPIRE", "locky:{cf1}", "5000")
            let refreshed = try await LockyBinary.run(["refresh", "cf1"], environment: config)
            #expect(refreshed.status == 0, "\(refreshed.errorOutput)")
            let afterRefresh = Int(try server.cli("PTTL", "locky:{cf1}")) ?? -1
            #expect(afterRefresh > 55_000, "PTTL \(afterRefresh): refresh without --ttl must use lockerTTL")

            // An explicit --ttl still wins.
            _ = try await LockyBinary.run(["lock", "cf2", "--locker", "u", "--ttl", "20s"], environment: config)
            let explicit = Int(try server.cli("PTTL", "locky:{cf2}")) ?? -1
            #expect(explicit > 15_000 && explicit <= 20_000, "PTTL \(explicit)")

            let run = try await LockyBinary.run(
                [
                    "run", "cf3", "--", "sh", "-c",
                    "redis-cli -p \(server.port) PTTL 'locky:{cf3}'; redis-cli -p \(server.port) GET 'locky:{cf3}'",
                ],
                environment: config)
            #expect(run.status == 0, "\(run.errorOutput)")
            let lines = run.lines
            let leaseTTL = lines.first.flatMap { Int($0) } ?? -1
            #expect(leaseTTL > 5_000 && leaseTTL <= 7_000, "PTTL \(leaseTTL): ttl not applied")
            #expect(lines.last?.hasPrefix("worker-1") == true, "holder \(lines.last ?? "")")
        }
    }
    @Test("--url beats LOCKY_URL beats LOCKY_CONFIG's url; --prefix beats LOCKY_PREFIX beats LOCKY_CONFIG's prefix")
    func precedence() async throws {
        try await withRedis { server in
            let unreachable = "redis://127.0.0.1:1"
            let config = #"{"url":"\#(server.url)","prefix":"json:"}"#
            let fromJSON = try await LockyBinary.run(["lock", "p1", "--locker", "u"], environment: ["LOCKY_CONFIG": config])
            #expect(fromJSON.status == 0, "\(fromJSON.errorOutput)")
            #expect(try server.cli("EXISTS", "json:{p1}") == "1")

            let environment = [
                "LOCKY_CONFIG": #"{"url":"\#(unreachable)","prefix":"json:"}"#, "LOCKY_URL": server.url,
                "LOCKY_PREFIX": "env:",
            ]
            let fromEnvironment = try await LockyBinary.run(["lock", "p2", "--locker", "u"], environment: environment)
            #expect(fromEnvironment.status == 0, "\(fromEnvironment.errorOutput)")
            #expect(try server.cli("EXISTS", "env:{p2}") == "1")

            var unreachableEnvironment = environment
            unreachableEnvironment["LOCKY_URL"] = unreachable
            let fromOptions = try await LockyBinary.run(
                ["lock", "p3", "--locker", "u", "--url", server.url, "--prefix", "opt:"], environment: unreachableEnvironment)
            #expect(fromOptions.status == 0, "\(fromOptions.errorOutput)")
            #expect(try server.cli("EXISTS", "opt:{p3}") == "1")
        }
    }
    /// `{"ttl":"1s","ttl":"2s"}` ran with 2 s: JSON parsers keep the last of two equal keys.
    @Test("a key given twice in LOCKY_CONFIG exits 64 naming it, before anything is locked")
    func duplicateKeysExit64() async throws {
        try await withRedis { server in
            for (config, message) in [
                (#"{"ttl":"1s","ttl":"2s"}"#, #"LOCKY_CONFIG has the key "ttl" twice"#),
                (#"{"retry":{"delay":"1s","delay":"2s"}}"#, #"LOCKY_CONFIG.retry has the key "delay" twice"#),
            ] {
                let result = try await LockyBinary.run(
                    ["lock", "dup", "--locker", "u"], url: server.url, environment: ["LOCKY_CONFIG": config])
                #expect(result.status == 64, "\(config): \(result.errorOutput)")
                #expect(result.errorOutput.contains(message), "\(config): \(result.errorOutput)")
            }
            #expect(try server.cli("EXISTS", "locky:{dup}") == "0")
        }
    }

    /// The library counts a blank LOCKY_URL as unset; the CLI trimmed only spaces and tabs, so a
    /// LOCKY_URL of a line break was a "malformed URL" (exit 64) instead of LOCKY_CONFIG's url.
    @Test("a LOCKY_URL of only whitespace, line breaks included, counts as unset, as in the library")
    func blankLockyURLIsUnset() async throws {
        try await withRedis { server in
            let result = try await LockyBinary.run(
                ["lock", "blank", "--locker", "u"],
                environment: ["LOCKY_URL": " \n\t", "LOCKY_CONFIG": #"{"url":"\#(server.url)"}"#])
            #expect(result.status == 0, "\(result.errorOutput)")
            #expect(try server.cli("EXISTS", "locky:{blank}") == "1")
        }
    }
}
