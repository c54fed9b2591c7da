import Foundation
import LockyTestSupport
import Testing

@Suite("locky command line, end to end")
struct LockyCLITests {
    @Test("lock: 0 when every resource was taken, 75 with the holder when one is busy, --force takes over")
    func lockExitCodes() async throws {
        try await withRedis { server in
            let first = try await LockyBinary.run(["lock", "a", "b", "--locker", "user:20", "--ttl", "30s"], url: server.url)
            #expect(first.status == 0, "\(first.errorOutput)")
            #expect(first.lines == ["a\tacquired\ttoken 1", "b\tacquired\ttoken 1"])

            let busy = try await LockyBinary.run(["lock", "a", "c", "--locker", "user:21"], url: server.url)
            #expect(busy.status == 75)
            #expect(busy.lines.first?.hasPrefix("a\tbusy\tuser:20\ttoken 1") == true)
            #expect(busy.lines.last == "c\tacquired\ttoken 1")

            let forced = try await LockyBinary.run(["lock", "a", "--locker", "user:21", "--force", "--json"], url: server.url)
            #expect(forced.status == 0)
            #expect(forced.output.contains("\"outcome\":\"acquired\""))
            #expect(try server.cli("GET", "locky:{a}") == "user:21")
        }
    }

    @Test("holder, unlock (unconditional and owner-checked) and refresh of a held lock exit 0")
    func holderUnlockRefresh() async throws {
        try await withRedis { server in
            _ = try await LockyBinary.run(["lock", "a", "--locker", "u1", "--ttl", "5s"], url: server.url)
            let holder = try await LockyBinary.run(["holder", "a", "free-one"], url: server.url)
            #expect(holder.status == 0)
            #expect(holder.lines == ["a\tu1", "free-one\t-"])

            let refresh = try await LockyBinary.run(["refresh", "a", "--ttl", "2m"], url: server.url)
            #expect(refresh.status == 0)
            #expect(refresh.lines == ["a\trefreshed"])
            #expect((Int(try server.cli("PTTL", "locky:{a}")) ?? 0) > 60_000)

            let notOwner = try await LockyBinary.run(["unlock", "a", "--locker", "u2"], url: server.url)
            #expect(notOwner.status == 0)
            #expect(notOwner.lines.first?.hasPrefix("a\theld-by-another\tu1") == true)

            let unlock = try await LockyBinary.run(["unlock", "a", "b"], url: server.url)
            #expect(unlock.status == 0)
            #expect(unlock.lines == ["a\tunlocked", "b\tfree"])
        }
    }

    /// `refresh` exited 0 whatever it found: a script that kept its lock alive with it (a
    /// heartbeat loop, a cron job) went on after the lock had expired or been taken over.
    @Test("refresh exits 76 when a resource was free or held by another, after printing every outcome")
    func refreshOfAGoneLockExits76() async throws {
        try await withRedis { server in
            _ = try await LockyBinary.run(["lock", "mine", "theirs", "--locker", "me", "--ttl", "1m"], url: server.url)
            _ = try await LockyBinary.run(["lock", "theirs", "--locker", "thief", "--force"], url: server.url)
            let both = try await LockyBinary.run(["refresh", "mine", "theirs", "--locker", "me", "--ttl", "2m"], url: server.url)
            #expect(both.status == 76, "\(both.output) \(both.errorOutput)")
            #expect(both.lines.first == "mine\trefreshed", "\(both.output)")
            #expect(both.lines.last?.hasPrefix("theirs\theld-by-another\tthief") == true, "\(both.output)")
            #expect((Int(try server.cli("PTTL", "locky:{mine}")) ?? 0) > 60_000, "the held one is still refreshed")

            let free = try await LockyBinary.run(["refresh", "never-locked", "--ttl", "1m"], url: server.url)
            #expect(free.status == 76, "\(free.output) \(free.errorOutput)")
            #expect(free.lines == ["never-locked\tfree"])
            #expect(try server.cli("EXISTS", "locky:{never-locked}") == "0", "refresh never creates a lock")

            let held = try await LockyBinary.run(["refresh", "mine", "--locker", "me", "--ttl", "1m"], url: server.url)
            #expect(held.status == 0, "\(held.output) \(held.errorOutput)")
        }
    }

    @Test("status lists held locks with holder, TTL and token (SCAN); --match filters; --watch on a pipe repeats")
    func status() async throws {
        try await withRedis { server in
            _ = try await LockyBinary.run(["lock", "article:1", "article:2", "--locker", "editor"], url: server.url)
            _ = try await LockyBinary.run(["lock", "invoice:9", "--locker", "billing", "--ttl", "1m"], url: server.url)
            try server.cli("SET", "locky:unrelated", "x")
            let all = try await LockyBinary.run(["status"], url: server.url)
            #expect(all.status == 0)
            #expect(all.lines.count == 3)
            #expect(all.lines.first == "article:1\teditor\tno expiry\t1")
            #expect(all.lines.last?.hasPrefix("invoice:9\tbilling\t") == true)

            let matching = try await LockyBinary.run(["status", "--match", "invoice:*", "--json"], url: server.url)
            #expect(matching.lines.count == 1)
            #expect(matching.output.contains("\"holder\":\"billing\""))
            #expect(matching.output.contains("\"fencingToken\":1"))

            let watching = try LockyBinary.Running(["status", "--watch"], url: server.url)
            try await watching.waitFor { $0.components(separatedBy: "# ").count >= 3 }
            watching.signal(SIGINT)
            let result = try await watching.finish()
            #expect(result.status == 0)
            #expect(result.output.contains("article:2\teditor"))
        }
    }

    @Test("watch streams locked, unlocked and expired events until SIGINT")
    func watch() async throws {
        try await withRedis { server in
            let watching = try LockyBinary.Running(["watch"], url: server.url)
            try await watching.waitFor { $0.contains("watching lock events") }
            _ = try await LockyBinary.run(["lock", "doc", "--locker", "alice", "--ttl", "10s"], url: server.url)
            _ = try await LockyBinary.run(["unlock", "doc"], url: server.url)
            _ = try await LockyBinary.run(["lock", "short", "--locker", "bob", "--ttl", "200ms"], url: server.url)
            try await watching.waitFor { $0.contains("\texpired\tshort") }
            watching.signal(SIGINT)
            let result = try await watching.finish()
            #expect(result.status == 0)
            #expect(result.output.contains("\tlocked\tdoc\talice\t10.0s"))
            #expect(result.output.contains("\tunlocked\tdoc"))
            #expect(result.output.contains("\texpired\tshort"))
        }
    }

    /// memory:// locks live in one process, and `locky watch` takes none: it waited for events
    /// that could never come, silently, until interrupted (`status` already refused memory://).
    @Test("watch on memory:// exits 64 at once saying why, instead of waiting forever for no events")
    func watchRefusesMemory() async throws {
        let result = try await LockyBinary.run(["watch", "--url", "memory://"], timeout: .seconds(5))
        #expect(result.status == 64, "\(result.errorOutput)")
        #expect(result.errorOutput.contains("memory://"), "\(result.errorOutput)")
        #expect(result.output.isEmpty)
    }

    @Test("run: COMMAND's exit code, LOCKY_RESOURCE and LOCKY_FENCING_TOKEN; 75 when busy; 127 when not found")
    func runBasics() async throws {
        try await withRedis { server in
            let run = try await LockyBinary.run(
                ["run", "job", "--", "sh", "-c", "echo \"$LOCKY_RESOURCE $LOCKY_FENCING_TOKEN\"; exit 3"],
                url: server.url
            )
            #expect(run.status == 3)
            #expect(run.lines == ["job 1"])
            #expect(try server.cli("EXISTS", "locky:{job}") == "0")

            _ = try await LockyBinary.run(["lock", "job", "--locker", "someone"], url: server.url)
            let noWait = try await LockyBinary.run(["run", "job", "--no-wait", "--", "true"], url: server.url)
            #expect(noWait.status == 75)
            #expect(noWait.errorOutput.contains("someone"))
            let waited = try await LockyBinary.run(["run", "job", "--wait", "300ms", "--", "true"], url: server.url)
            #expect(waited.status == 75)
            #expect(waited.elapsed >= .milliseconds(300))
            _ = try await LockyBinary.run(["unlock", "job"], url: server.url)

            let missing = try await LockyBinary.run(["run", "job", "--", "no-such-command-locky"], url: server.url)
            #expect(missing.status == 127)
        }
    }

    @Test("8 concurrent locky run loops, 25 read-modify-writes each, end at exactly 200")
    func mutualExclusionAcrossProcesses() async throws {
        try LockyBinary.require()
        try await withRedis { server in
            let directory = FileManager.default.temporaryDirectory.path + "/locky-cli-counter-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let counter = directory + "/counter"
            try "0\n".write(toFile: counter, atomically: true, encoding: .utf8)
            let increment = "n=$(cat \"$1\"); sleep 0.002; echo $((n + 1)) > \"$1\""
            let loop = "for i in $(seq 25); do \"$0\" run counter --ttl 10s -- sh -c '\(increment)' x \"$1\" || exit 1; done"
            try await withThrowingTaskGroup(of: Int32.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let process = Process()
                        process.executableURL = URL(fileURLWithPath: "/bin/sh")
                        process.arguments = ["-c", loop, LockyBinary.path, counter]
                        var environment = ProcessInfo.processInfo.environment
                        environment["LOCKY_URL"] = server.url
                        process.environment = environment
                        try process.run()
                        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
                        return process.terminationStatus
                    }
                }
                for try await status in group { #expect(status == 0) }
            }
            let final = try String(contentsOfFile: counter, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(final == "200")
        }
    }

    @Test("a lock deleted from under locky run ends COMMAND and exits 76 within one renewal interval")
    func lockLost() async throws {
        try await withRedis { server in
            let running = try LockyBinary.Running(["run", "lost", "--ttl", "1500ms", "--", "sleep", "30"], url: server.url)
            let deadline = ContinuousClock.now + .seconds(10)
            while try server.cli("EXISTS", "locky:{lost}") == "0", ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            try server.cli("DEL", "locky:{lost}")
            let deleted = ContinuousClock.now
            let result = try await running.finish(timeout: .seconds(10))
            #expect(result.status == 76)
            #expect(result.errorOutput.contains("lost"))
            // (A background `cmd &` in COMMAND would outlive it and keep Foundation's Process from seeing the exit.)
            // Renewal runs every third of the TTL (500 ms); allow for process start-up noise.
            #expect(ContinuousClock.now - deleted < .milliseconds(1_500))
        }
    }

    /// The processes COMMAND started stop with it: a script's `sleep` used to go on working
    /// (and hold the output pipe open) after locky reported COMMAND terminated.
    @Test("a lost lock also ends the processes COMMAND started")
    func lockLostEndsCommandsChildren() async throws {
        try await withRedis { server in
            let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("locky-child-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: pidFile) }
            let running = try LockyBinary.Running(
                [
                    "run", "lost-tree", "--ttl", "1500ms", "--kill-after", "1s", "--", "sh", "-c",
                    "sleep 30 & echo $! > \(pidFile); wait",
                ],
                url: server.url)
            let deadline = ContinuousClock.now + .seconds(10)
            while !FileManager.default.fileExists(atPath: pidFile)
                || (try? String(contentsOfFile: pidFile, encoding: .utf8))?
                    .contains("\n") != true,
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            let child = try #require(
                pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            try server.cli("SET", "locky:{lost-tree}", "thief")
            let result = try await running.finish(timeout: .seconds(10))
            #expect(result.status == 76)
            // Gone, or a zombie nobody reaped yet: either way no longer running.
            let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8)
            let state = stat.flatMap { text in text.lastIndex(of: ")").map { text[text.index($0, offsetBy: 2)] } }
            #expect(state == nil || state == "Z", "COMMAND's child \(child) still runs: \(stat ?? "")")
            #expect(try server.cli("GET", "locky:{lost-tree}") == "thief")
        }
    }

    @Test("SIGTERM to locky run is forwarded to COMMAND and the lock is released once it exited")
    func sigtermReleases() async throws {
        try await withRedis { server in
            let running = try LockyBinary.Running(
                [
                    "run", "term", "--", "sh", "-c",
                    "trap 'echo got-term; exit 7' TERM; echo started; while :; do sleep 0.05; done",
                ],
                url: server.url
            )
            try await running.waitFor { $0.contains("started") }
            #expect(try server.cli("EXISTS", "locky:{term}") == "1")
            running.signal(SIGTERM)
            let result = try await running.finish(timeout: .seconds(10))
            #expect(result.status == 7)
            #expect(result.output.contains("got-term"))
            #expect(try server.cli("EXISTS", "locky:{term}") == "0")
        }
    }

    @Test(
        "bad arguments exit 64 with a message naming the problem",
        arguments: [
            (["lock", "", "--locker", "x"], "empty"),
            (["run", "r", "--ttl", "soon", "--", "true"], "soon"),
            (["run", "r"], "command"),
            (["holder", "a", "--url", "http://example"], "URL"),
            (["holder", "a", "--url", "redis://127.0.0.1:1,,redis://127.0.0.1:2"], "entry 2 of 3 is empty"),
            (["holder", "a", "--url", "redis://127.0.0.1:1,http://x"], "entry 2 of 2"),
            (["holder", "a", "--url", "redis://127.0.0.1:7,redis://127.0.0.1:7"], "listed twice"),
            (["run", "r", "--wait", "1s", "--no-wait", "--", "true"], "--no-wait"),
        ]
    )
    func usageErrors(arguments: [String], expected: String) async throws {
        let result = try await LockyBinary.run(arguments)
        #expect(result.status == 64)
        #expect(result.errorOutput.contains(expected), "\(result.errorOutput)")
    }

    @Test("an unreachable server exits 69 with the address and the cause, within the connect timeout")
    func unreachable() async throws {
        let port = try FreePort.next()
        let result = try await LockyBinary.run(["holder", "a", "--url", "redis://127.0.0.1:\(port)?connect_timeout=2s"])
        #expect(result.status == 69)
        #expect(result.errorOutput.contains("127.0.0.1:\(port)"))
        #expect(result.errorOutput.contains("refused"))
        #expect(result.elapsed < .seconds(3))
    }

    /// `run` (which subscribes for wake-ups before it waits) and `run --no-wait` (which does not
    /// need to) report an unreachable server as such, at once: they waited for the command
    /// timeout (5 s) and then blamed a subscription "not confirmed in time".
    @Test(
        "run against an unreachable server exits 69 at once and names the cause", arguments: [["--no-wait"], ["--wait", "10s"]])
    func runUnreachable(wait: [String]) async throws {
        let port = try FreePort.next()
        let result = try await LockyBinary.run(["run", "x"] + wait + ["--url", "redis://127.0.0.1:\(port)", "--", "true"])
        #expect(result.status == 69)
        #expect(result.errorOutput.contains("refused"), "\(result.errorOutput)")
        #expect(result.elapsed < .seconds(3))
    }

    @Test("run: COMMAND keeps the signals locky inherited as ignored (nohup works), and gets SIGPIPE back")
    func runKeepsIgnoredSignals() async throws {
        // A shell ignores SIGHUP, then becomes `locky run`; COMMAND sends itself SIGHUP and must survive it.
        let inner = "'\(LockyBinary.path)' run inner --url memory:// -- sh -c 'kill -HUP $$; echo survived'"
        let ignoring = try await LockyBinary.run([
            "run", "outer", "--url", "memory://", "--", "sh", "-c", "trap '' HUP; exec \(inner)",
        ])
        #expect(ignoring.status == 0, "\(ignoring.errorOutput)")
        #expect(ignoring.output.contains("survived"))
        // Without the trap, SIGHUP kills it as usual; SIGPIPE (which NIO ignores in locky) is default again.
        let plain = try await LockyBinary.run(["run", "r", "--url", "memory://", "--", "sh", "-c", "kill -HUP $$; echo survived"])
        #expect(plain.status == 129, "\(plain.errorOutput)")
        // Through `env --default-signal`: the test process may ignore SIGPIPE itself (NIO, once a
        // test has used a socket), and locky must be started as a shell would start it.
        let pipe = try await LockyBinary.run([
            "run", "outer", "--url", "memory://", "--", "env", "--default-signal=PIPE", LockyBinary.path,
            "run", "r", "--url", "memory://", "--", "sh", "-c", "grep SigIgn /proc/self/status",
        ])
        let mask = pipe.output.split(separator: "\t").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        let ignored = UInt64(mask, radix: 16) ?? 0
        #expect(ignored & (1 << (UInt64(SIGPIPE) - 1)) == 0, "SigIgn \(mask)")
    }

    @Test("a wrong password exits 77 and says so, without printing the password")
    func wrongPassword() async throws {
        try await RedisServer.withServer(RedisServer.Options(password: "right-secret")) { server in
            let result = try await LockyBinary.run(["holder", "a", "--url", "redis://:wrong-secret@127.0.0.1:\(server.port)"])
            #expect(result.status == 77, "\(result.errorOutput)")
            #expect(result.errorOutput.contains("refused the credentials"), "\(result.errorOutput)")
            #expect(!result.errorOutput.contains("wrong-secret"))
            let right = try await LockyBinary.run(["holder", "a", "--url", "redis://:right-secret@127.0.0.1:\(server.port)"])
            #expect(right.status == 0, "\(right.errorOutput)")
        }
    }

    /// A user whose ACL lacks a command Locky needs (`NOPERM`) exited 1, as any failure: a
    /// script could not tell a permission to fix from a passing fault.
    @Test("a user the ACL does not allow Locky's commands exits 77 naming the permission")
    func missingPermission() async throws {
        try await RedisServer.withServer { server in
            // May log in and read, not run scripts: `lock` needs EVALSHA.
            _ = try server.cli("ACL", "SETUSER", "reader", "on", ">reader-secret", "~*", "&*", "+@read", "+hello", "+ping")
            let result = try await LockyBinary.run([
                "lock", "a", "--locker", "me", "--url", "redis://reader:reader-secret@127.0.0.1:\(server.port)",
            ])
            #expect(result.status == 77, "\(result.errorOutput)")
            #expect(result.errorOutput.contains("permission"), "\(result.errorOutput)")
            #expect(!result.errorOutput.contains("reader-secret"))
            #expect(try server.cli("EXISTS", "locky:{a}") == "0")
        }
    }

    @Test("a database index the server lacks exits 78 and names the database")
    func databaseOutOfRange() async throws {
        try await RedisServer.withServer { server in
            let result = try await LockyBinary.run([
                "lock", "a", "--locker", "me", "--url", "redis://127.0.0.1:\(server.port)/16",
            ])
            #expect(result.status == 78, "\(result.errorOutput)")
            #expect(result.errorOutput.contains("refused database 16"), "\(result.errorOutput)")
            #expect(try server.cli(arguments: ["-n", "0", "DBSIZE"]) == "0")
            let right = try await LockyBinary.run(["lock", "a", "--locker", "me", "--url", "redis://127.0.0.1:\(server.port)/15"])
            #expect(right.status == 0, "\(right.errorOutput)")
        }
    }

    @Test("demo with a throwaway server and in memory: the counter equals the acquisitions")
    func demo() async throws {
        let redis = try await LockyBinary.run(["demo", "--workers", "3", "--seconds", "1"], timeout: .seconds(30))
        #expect(redis.status == 0, "\(redis.errorOutput)")
        #expect(redis.output.contains("mutual exclusion held"))
        #expect(redis.errorOutput.contains("throwaway redis-server"))

        let memory = try await LockyBinary.run(["demo", "--url", "memory://", "--seconds", "1", "--json"])
        #expect(memory.status == 0)
        #expect(memory.output.contains("\"overlaps\":0"))
        #expect(memory.output.contains("\"fencingTokensIncrease\":true"))
    }

    @Test("--help works on every subcommand and shows examples")
    func help() async throws {
        for subcommand in ["lock", "unlock", "refresh", "holder", "status", "watch", "run", "demo"] {
            let result = try await LockyBinary.run([subcommand, "--help"])
            #expect(result.status == 0)
            #expect(result.output.contains("Examples:"), "\(subcommand)")
        }
        // The gap record has a message field, as printed and as the README says.
        let watch = try await LockyBinary.run(["watch", "--help"])
        #expect(watch.output.contains("time<TAB>gap<TAB>message"), "\(watch.output)")
        let top = try await LockyBinary.run(["--help"])
        #expect(top.status == 0)
        #expect(top.output.contains("Exit codes"))
        #expect(!top.output.contains("demo-worker"))
    }

    /// Bare `locky` printed the help and exited 0: `locky $cmd job` with an empty `$cmd` seemed
    /// to succeed, having locked nothing.
    @Test("locky without a subcommand is a usage error: exit 64, the message on standard error", arguments: [[], ["--json"]])
    func noSubcommandIsAUsageError(arguments: [String]) async throws {
        let result = try await LockyBinary.run(arguments)
        #expect(result.status == 64, "\(result.output) \(result.errorOutput)")
        #expect(result.errorOutput.contains("missing subcommand"), "\(result.errorOutput)")
        #expect(result.output.isEmpty, "\(result.output)")
    }
}
