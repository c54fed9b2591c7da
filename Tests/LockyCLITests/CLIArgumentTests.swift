import Foundation
import LockyTestSupport
import Testing

/// Arguments a shell script hands over as they come: names starting with `-`, COMMAND's own
/// `--` and options, names at the length limit.
@Suite struct CLIArgumentTests {
    @Test("a resource starting with - goes after -- for the locker subcommands")
    func dashNamesAfterTerminator() async throws {
        try await withRedis { server in
            let lock = try await LockyBinary.run(["lock", "--locker", "me", "--", "-x", "--"], url: server.url)
            #expect(lock.status == 0, "\(lock.errorOutput)")
            #expect(lock.lines == ["-x\tacquired\ttoken 1", "--\tacquired\ttoken 1"])
            let holder = try await LockyBinary.run(["holder", "--", "-x", "--"], url: server.url)
            #expect(holder.lines == ["-x\tme", "--\tme"])
            let unlock = try await LockyBinary.run(["unlock", "--", "-x", "--"], url: server.url)
            #expect(unlock.lines == ["-x\tunlocked", "--\tunlocked"])
        }
    }

    /// `run` takes COMMAND after `--`, so a resource starting with `-` could not be given at all
    /// (`locky run -x -- …` is an unknown option, `locky run -- -x -- …` has no resource).
    @Test("run --resource takes a resource starting with -")
    func runResourceOption() async throws {
        try await withRedis { server in
            let run = try await LockyBinary.run(
                [
                    "run", "--resource", "-x", "--", "sh", "-c",
                    "echo \"$LOCKY_RESOURCE\"; redis-cli -h 127.0.0.1 -p \(server.port) EXISTS 'locky:{-x}'",
                ],
                url: server.url)
            #expect(run.status == 0, "\(run.errorOutput)")
            #expect(run.lines == ["-x", "1"], "locked while COMMAND ran")
            #expect(try server.cli("EXISTS", "locky:{-x}") == "0", "released")
            let both = try await LockyBinary.run(["run", "a", "--resource", "b", "--", "true"], url: server.url)
            #expect(both.status == 64)
            #expect(both.errorOutput.contains("--resource"), "\(both.errorOutput)")
        }
    }

    @Test("run passes everything after the first -- to COMMAND untouched: another --, --help, global options")
    func runPassesCommandArguments() async throws {
        try await withRedis { server in
            let run = try await LockyBinary.run(
                ["run", "args", "--", "sh", "-c", "printf '[%s]' \"$@\"", "sh", "--", "--help", "--url", "-x"], url: server.url)
            #expect(run.status == 0, "\(run.errorOutput)")
            #expect(run.output == "[--][--help][--url][-x]")
        }
    }

    /// Swift's command line and environment are Strings, which turn bytes that are not UTF-8 (a
    /// file name in Latin-1) into U+FFFD: COMMAND got `a\u{FFFD}b` for `a\xFFb`.
    @Test("run hands COMMAND its arguments and environment byte for byte, UTF-8 or not")
    func runPassesBytes() async throws {
        // A Process takes Strings, so a shell makes the byte 0xFF and starts locky with it.
        let script = """
            bytes=$(printf 'a\\377b'); export X="$bytes"
            exec "$0" run r --url memory:// -- sh -c \\
              'b=$(printf "a\\377b"); [ "$1" = "$b" ] && echo argument-same; [ "$X" = "$b" ] && echo environment-same' \\
              sh "$bytes"
            """
        let result = try await LockyBinary.run(["run", "outer", "--url", "memory://", "--", "sh", "-c", script, LockyBinary.path])
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(result.lines == ["argument-same", "environment-same"])
    }

    /// Swift reads such bytes as U+FFFD, so `a\xFFb` locked `a\u{FFFD}b`, the lock of
    /// `a\xFEb` too, and printed another name than the one given.
    @Test("a resource or locker given as bytes that are not UTF-8 exits 64 instead of locking another name")
    func nonUTF8NamesAreRefused() async throws {
        try await withRedis { server in
            let script = """
                bad=$(printf 'a\\377b')
                "$0" lock "$bad" --locker me; echo "lock $?"
                "$0" lock fine --locker "$bad"; echo "locker $?"
                "$0" run x --locker "$bad" -- true; echo "run $?"
                "$0" run x -- true "$bad"; echo "command $?"
                """
            let result = try await LockyBinary.run(
                ["run", "outer", "--url", "memory://", "--", "sh", "-c", script, LockyBinary.path], url: server.url)
            #expect(result.lines == ["lock 64", "locker 64", "run 64", "command 0"], "\(result.errorOutput)")
            #expect(result.errorOutput.contains("not UTF-8"), "\(result.errorOutput)")
            #expect(try server.cli("EXISTS", "locky:{a\u{FFFD}b}", "locky:{fine}") == "0")
        }
    }

    @Test("names at the 512-byte limit are printed whole; longer ones and empty or long labels exit 64 saying why")
    func lengthLimits() async throws {
        try await withRedis { server in
            let longest = String(repeating: "é", count: 256)
            let lock = try await LockyBinary.run(["lock", longest, "--locker", longest], url: server.url)
            #expect(lock.lines == ["\(longest)\tacquired\ttoken 1"], "\(lock.errorOutput)")
            let status = try await LockyBinary.run(["status"], url: server.url)
            #expect(status.lines == ["\(longest)\t\(longest)\tno expiry\t1"])

            let tooLong = String(repeating: "a", count: 513)
            for arguments in [
                ["lock", tooLong, "--locker", "me"], ["run", tooLong, "--", "true"], ["holder", tooLong],
            ] {
                let result = try await LockyBinary.run(arguments, url: server.url)
                #expect(result.status == 64, "\(arguments[0]): \(result.errorOutput)")
                #expect(result.errorOutput.contains("513 bytes long; the maximum is 512"), "\(result.errorOutput)")
            }
            for arguments in [["run", "r", "--locker", tooLong, "--", "true"], ["lock", "r", "--locker", tooLong]] {
                let result = try await LockyBinary.run(arguments, url: server.url)
                #expect(result.status == 64, "\(arguments[0]): \(result.errorOutput)")
                #expect(result.errorOutput.contains("longer than 512 bytes"), "\(result.errorOutput)")
            }
            for arguments in [["run", "r", "--locker", "", "--", "true"], ["lock", "r", "--locker", ""]] {
                let result = try await LockyBinary.run(arguments, url: server.url)
                #expect(result.status == 64, "\(arguments[0]): \(result.errorOutput)")
                #expect(result.errorOutput.contains("empty"), "\(result.errorOutput)")
            }
            #expect(try server.cli("DBSIZE") == "2", "only the first lock and its fence counter")
        }
    }
    /// The library rejects such names with the resource in `LockError.resource`, which the CLI
    /// dropped: among many names, "the resource is listed twice" did not say which one.
    @Test("a rejected resource name is named in the usage error (listed twice, only a hash tag, starting with })")
    func rejectedResourceIsNamed() async throws {
        for (arguments, named) in [
            (["lock", "ok", "dup:1", "dup:1", "--locker", "me"], "dup:1"),
            (["holder", "ok", "{grp}"], "{grp}"),
            (["unlock", "ok", "}x"], "}x"),
            (["run", "{t}:x:fence", "--", "true"], "{t}:x:fence"),
        ] {
            let result = try await LockyBinary.run(arguments + ["--url", "memory://"])
            #expect(result.status == 64, "\(arguments): \(result.errorOutput)")
            #expect(result.errorOutput.contains(named), "\(arguments): \(result.errorOutput)")
        }
    }

    /// `-1` looks like an option to ArgumentParser, so `--ttl -1` was "Missing value for
    /// '--ttl <ttl>'" although a value was given.
    @Test("a negative duration is an invalid value of its option, not a missing one")
    func negativeDurationsAreInvalidValues() async throws {
        for (arguments, option, value) in [
            (["lock", "a", "--locker", "me"], "--ttl", "-1"),
            (["refresh", "a"], "--ttl", "-5s"),
            (["run", "a"], "--ttl", "-1"),
            (["run", "a"], "--wait", "-1s"),
            (["run", "a"], "--kill-after", "-2"),
        ] {
            let command = arguments[0] == "run" ? ["--", "true"] : []
            let result = try await LockyBinary.run(arguments + [option, value, "--url", "memory://"] + command)
            #expect(result.status == 64, "\(arguments): \(result.errorOutput)")
            #expect(
                result.errorOutput.contains("The value '\(value)' is invalid for '\(option)"),
                "\(arguments): \(result.errorOutput)")
        }
    }
    /// `--wait 0` (flock's `-w 0`) and `--ttl 0` were "invalid values" with no reason given.
    /// `--wait 0` now means not waiting (as `--no-wait`), `--kill-after 0` SIGKILL right after
    /// SIGTERM, and a zero TTL is refused naming the minimum, as any TTL below it.
    @Test("--wait 0 does not wait (exit 75 when busy); --ttl 0 exits 64 naming the minimum")
    func zeroDurations() async throws {
        try await withRedis { server in
            let held = try await LockyBinary.run(["lock", "z", "--locker", "other"], url: server.url)
            #expect(held.status == 0, "\(held.errorOutput)")
            let start = ContinuousClock.now
            let busy = try await LockyBinary.run(
                ["run", "z", "--wait", "0", "--kill-after", "0", "--", "sh", "-c", "echo ran"], url: server.url)
            #expect(busy.status == 75, "\(busy.errorOutput)")
            #expect(busy.output.isEmpty, "\(busy.output)")
            #expect(ContinuousClock.now - start < .seconds(5))
            let free = try await LockyBinary.run(
                ["run", "free", "--wait", "0", "--kill-after", "0", "--", "sh", "-c", "echo ran"], url: server.url)
            #expect(free.status == 0, "\(free.errorOutput)")
            #expect(free.lines == ["ran"])
            for arguments in [["lock", "r", "--locker", "u", "--ttl", "0"], ["run", "r", "--ttl", "0s", "--", "true"]] {
                let result = try await LockyBinary.run(arguments, url: server.url)
                #expect(result.status == 64, "\(arguments): \(result.errorOutput)")
                #expect(result.errorOutput.contains("0ms is too short"), "\(arguments): \(result.errorOutput)")
            }
            #expect(try server.cli("EXISTS", "locky:{r}") == "0")
        }
    }

    /// `10S`, `5Ms` and `1d` were invalid values although every unit was clear.
    @Test("durations take days and units in any case: --ttl 1D, --ttl 10S, --wait 1M")
    func durationUnits() async throws {
        try await withRedis { server in
            let locked = try await LockyBinary.run(["lock", "day", "--locker", "u", "--ttl", "1D"], url: server.url)
            #expect(locked.status == 0, "\(locked.errorOutput)")
            let day = Int(try server.cli("PTTL", "locky:{day}")) ?? -1
            #expect(day > 86_390_000 && day <= 86_400_000, "PTTL \(day)")
            let run = try await LockyBinary.run(
                [
                    "run", "r", "--ttl", "10S", "--wait", "1M", "--kill-after", "500Ms", "--", "redis-cli", "-p",
                    "\(server.port)", "PTTL", "locky:{r}",
                ],
                url: server.url)
            #expect(run.status == 0, "\(run.errorOutput)")
            let ttl = run.lines.first.flatMap { Int($0) } ?? -1
            #expect(ttl > 9_000 && ttl <= 10_000, "PTTL \(ttl)")
        }
    }

    /// `run --ttl 3ms` was taken: the lease was valid for about a millisecond (its TTL minus
    /// the drift allowance, 2.03 ms), so COMMAND started and was killed at once, exit 76.
    @Test("a TTL below 100ms exits 64 naming the minimum, from --ttl or from LOCKY_CONFIG, before anything runs")
    func tooShortTTLs() async throws {
        try await withRedis { server in
            for arguments in [
                ["run", "r", "--ttl", "3ms", "--", "sh", "-c", "echo ran"],
                ["run", "r", "--ttl", "99ms", "--", "sh", "-c", "echo ran"],
                ["lock", "r", "--locker", "u", "--ttl", "50ms"],
                ["refresh", "r", "--ttl", "0.5"],
            ] {
                let result = try await LockyBinary.run(arguments, url: server.url)
                #expect(result.status == 64, "\(arguments): \(result.errorOutput)")
                #expect(result.errorOutput.contains("--ttl"), "\(arguments): \(result.errorOutput)")
                #expect(result.errorOutput.contains("at least 100ms"), "\(arguments): \(result.errorOutput)")
                #expect(result.output.isEmpty, "\(arguments): \(result.output)")
            }
            #expect(try server.cli("EXISTS", "locky:{r}") == "0")
            for (config, arguments, key) in [
                (#"{"ttl":"3ms"}"#, ["run", "r", "--", "sh", "-c", "echo ran"], "ttl"),
                (#"{"lockerTTL":10}"#, ["lock", "r", "--locker", "u"], "lockerTTL"),
                (#"{"lockerTTL":"20ms"}"#, ["refresh", "r"], "lockerTTL"),
            ] {
                let result = try await LockyBinary.run(
                    arguments, url: server.url, environment: ["LOCKY_CONFIG": config])
                #expect(result.status == 64, "\(config): \(result.errorOutput)")
                #expect(result.errorOutput.contains("LOCKY_CONFIG's \(key)"), "\(config): \(result.errorOutput)")
                #expect(result.errorOutput.contains("at least 100ms"), "\(config): \(result.errorOutput)")
                #expect(result.output.isEmpty, "\(config): \(result.output)")
            }
            #expect(try server.cli("EXISTS", "locky:{r}") == "0")
            // The minimum itself is taken, and an explicit --ttl overrides a short LOCKY_CONFIG ttl.
            let run = try await LockyBinary.run(
                ["run", "r", "--ttl", "100ms", "--", "sh", "-c", "echo ran"], url: server.url,
                environment: ["LOCKY_CONFIG": #"{"ttl":"3ms"}"#])
            #expect(run.status == 0, "\(run.errorOutput)")
            #expect(run.lines == ["ran"])
        }
    }

    @Test("demo's negative sizes are out of range, not missing values")
    func demoNegativeSizesAreOutOfRange() async throws {
        for (option, message) in [
            ("--workers", "--workers must be 1 to 64"), ("--resources", "--resources must be 1 to 100"),
            ("--seconds", "--seconds must be above 0"),
        ] {
            let result = try await LockyBinary.run(["demo", option, "-1", "--url", "memory://"])
            #expect(result.status == 64, "\(option): \(result.errorOutput)")
            #expect(result.errorOutput.contains(message), "\(option): \(result.errorOutput)")
        }
    }
    /// Swift reads such bytes as U+FFFD, so `--prefix 'app\xFF:'` put the locks under
    /// `app\u{FFFD}:`, the prefix of `app\xFE:` too, as names were before they were checked.
    @Test("a --prefix given as bytes that are not UTF-8 exits 64 instead of locking under another prefix")
    func nonUTF8PrefixIsRefused() async throws {
        try await withRedis { server in
            let script = """
                bad=$(printf 'app\\377:')
                "$0" lock x --locker me --prefix "$bad"; echo "lock $?"
                "$0" --prefix "$bad" holder x; echo "holder $?"
                "$0" run x --no-wait --prefix "$bad" -- true; echo "run $?"
                """
            let result = try await LockyBinary.run(
                ["run", "outer", "--url", "memory://", "--", "sh", "-c", script, LockyBinary.path], url: server.url)
            #expect(result.lines == ["lock 64", "holder 64", "run 64"], "\(result.errorOutput)")
            #expect(result.errorOutput.contains("not UTF-8"), "\(result.errorOutput)")
            #expect(try server.cli("DBSIZE") == "0")
        }
    }
}
