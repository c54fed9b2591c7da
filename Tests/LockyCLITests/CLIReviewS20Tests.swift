import Foundation
import LockyTestSupport
import Testing

/// Review of the CLI's signal handling and clean-up (session 20).
@Suite struct CLIReviewS20Tests {
    /// Waits until `process` has exited, at most `timeout`; SIGKILLs it then.
    static func waitForExit(_ process: Process, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// `run --help` promises that a signal locky was started ignoring stays ignored, and `run`
    /// keeps that promise; `watch`, `status --watch` and `demo` installed their SIGINT handler
    /// regardless, so a background job (`locky watch &`) stopped at a Ctrl-C meant for the shell.
    @Test(
        "watch, status --watch and demo started with SIGINT ignored keep running at a SIGINT, and stop at SIGTERM",
        arguments: ["watch", "status", "demo"])
    func ignoredSIGINTStaysIgnored(subcommand: String) async throws {
        try LockyBinary.require()
        try await withRedis { server in
            let arguments: [String]
            switch subcommand {
            case "watch": arguments = ["watch", "--url", server.url]
            case "status": arguments = ["status", "--watch", "--url", server.url]
            default: arguments = ["demo", "--url", "memory://", "--seconds", "60", "--json"]
            }
            let (outputPath, errorPath) = LockyBinary.outputFiles("locky-s20-ignored")
            defer {
                try? FileManager.default.removeItem(atPath: outputPath)
                try? FileManager.default.removeItem(atPath: errorPath)
            }
            let process = try LockyBinary.startIgnoring("INT", arguments, outputPath: outputPath, errorPath: errorPath)
            // Running by now (its signal handlers, if any, in place).
            try await Task.sleep(for: .milliseconds(1_500))
            #expect(process.isRunning, "locky \(subcommand) ended before the test's SIGINT")
            kill(process.processIdentifier, SIGINT)
            try await Task.sleep(for: .milliseconds(1_000))
            let survived = process.isRunning
            if survived { kill(process.processIdentifier, SIGTERM) }
            try await Self.waitForExit(process, timeout: .seconds(20))
            let errorOutput = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            #expect(survived, "locky \(subcommand) stopped at a SIGINT it was started ignoring; stderr: \(errorOutput)")
            #expect(process.terminationReason == .exit, "locky \(subcommand) died of signal \(process.terminationStatus)")
        }
    }

    /// `demo --url` against a server that stays: the demo stops its worker processes with
    /// SIGTERM when interrupted, and a worker killed outright left the lock it held for its
    /// 10 s TTL (and any waiter on it waiting that long).
    @Test("an interrupted demo --url leaves no lock behind")
    func interruptedDemoReleasesItsLocks() async throws {
        try await withRedis { server in
            let running = try LockyBinary.Running(
                ["demo", "--workers", "4", "--resources", "2", "--seconds", "60"], url: server.url)
            // Lines every second once the workers run; locks are held most of the time.
            try await running.waitFor(.seconds(30)) { $0.contains("acquisitions") || $0.contains("acq") }
            try await Task.sleep(for: .milliseconds(500))
            running.signal(SIGINT)
            let result = try await running.finish(timeout: .seconds(20))
            #expect(result.status == 0 || result.status == 1, "\(result.errorOutput)")
            let keys = try server.cli("KEYS", "locky:{demo:resource-*}")
                .split(separator: "\n").map(String.init).filter {
                    !$0.isEmpty && !$0.contains(":queue") && !$0.contains(":waiters")
                }
            let held = keys.filter { $0.hasSuffix("}") }
            #expect(held.isEmpty, "locks left behind by the interrupted demo: \(held)")
        }
    }

    /// A release that fails once COMMAND has exited (Redis does not answer) left the lock held
    /// until its TTL without a word, exit 0: the next `locky run` of that resource waited for it,
    /// unexplained. COMMAND pauses the server's writes (CLIENT PAUSE) for longer than locky's
    /// command timeout, so the release times out and is dropped when locky's connection closes.
    @Test("a release that fails after COMMAND exits is reported on stderr")
    func failedReleaseIsReported() async throws {
        try await withRedis { server in
            let url = server.url + "?command_timeout=500ms&connect_timeout=500ms"
            let result = try await LockyBinary.run(
                [
                    "run", "gone-release", "--ttl", "20s", "--", "redis-cli", "-p", String(server.port), "client", "pause",
                    "3000", "write",
                ],
                url: url, timeout: .seconds(30))
            // Past the pause: the release locky sent was dropped with its connection.
            try await Task.sleep(for: .milliseconds(3_500))
            let remaining =
                Int(try server.cli("PTTL", "locky:{gone-release}").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -2
            #expect(remaining > 0, "the lock is not held: the test's premise (its release failed) does not hold")
            #expect(result.status == 0, "COMMAND's status is kept: \(result.status), \(result.errorOutput)")
            #expect(
                result.errorOutput.contains("gone-release") && result.errorOutput.contains("could not be released"),
                "status \(result.status), stderr: \(result.errorOutput)")
        }
    }

    /// The README: on a lost lock "COMMAND and the processes it started got SIGTERM, then
    /// SIGKILL after --kill-after". One that COMMAND started in its own shutdown (a trap's
    /// clean-up job) after locky's SIGTERM, left behind as COMMAND exited, was never found:
    /// reparented to init, it ran on without the lock after locky had exited.
    @Test("a lost lock: a process COMMAND starts during its shutdown gets SIGKILL after --kill-after")
    func processStartedDuringShutdownIsKilled() async throws {
        try await withRedis { server in
            let pidFile = FileManager.default.temporaryDirectory.path + "/locky-s20-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: pidFile) }
            let script = """
                trap '(trap "" TERM; exec sleep 30) & echo $! > \(pidFile); exit 0' TERM; echo started; \
                while :; do sleep 0.1; done
                """
            let running = try LockyBinary.Running(
                ["run", "shutdown-child", "--ttl", "3s", "--kill-after", "1s", "--", "sh", "-c", script], url: server.url)
            try await running.waitFor { $0.contains("started") }
            try server.cli("SET", "locky:{shutdown-child}", "thief")
            let result = try await running.finish(timeout: .seconds(15))
            #expect(result.status == 76, "\(result.errorOutput)")
            var child: pid_t?
            let deadline = ContinuousClock.now + .seconds(5)
            while child == nil, ContinuousClock.now < deadline {
                child = CLIReviewTests.readPid(pidFile)
                if child == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            guard let child else {
                Issue.record("COMMAND never started its clean-up process")
                return
            }
            defer { kill(child, SIGKILL) }
            let gone = ContinuousClock.now + .seconds(2)
            while CLIReviewTests.isRunning(child), ContinuousClock.now < gone { try await Task.sleep(for: .milliseconds(20)) }
            #expect(
                !CLIReviewTests.isRunning(child),
                "the process COMMAND started in its shutdown (pid \(child)) runs without the lock")
        }
    }

    /// Interrupted while it connects to a frozen Redis (SIGSTOP: the TCP connection is made, no
    /// reply comes), `run` should end at once, not after the connect timeout.
    @Test("run interrupted while connecting to a frozen Redis ends well before the connect timeout")
    func interruptedWhileConnectingToAFrozenServer() async throws {
        try await withRedis { server in
            server.pause()
            defer { server.resume() }
            let running = try LockyBinary.Running(
                ["run", "frozen", "--", "true"], url: server.url + "?connect_timeout=15s&command_timeout=15s")
            try await Task.sleep(for: .milliseconds(1_500))
            let interrupted = ContinuousClock.now
            running.signal(SIGINT)
            let result = try await running.finish(timeout: .seconds(30))
            let took = ContinuousClock.now - interrupted
            #expect(took < .seconds(5), "took \(took) after the SIGINT; status \(result.status), stderr: \(result.errorOutput)")
        }
    }
}
