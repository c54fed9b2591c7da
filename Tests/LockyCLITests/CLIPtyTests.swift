#if os(Linux)
    import Foundation
    import LockyTestSupport
    import Testing

    /// `locky run` as the foreground job of a real (pseudo-)terminal. A Ctrl-C there is sent by the
    /// terminal to the whole foreground process group, locky and COMMAND alike: locky must not
    /// forward a second one, which would tell many tools to skip their graceful shutdown.
    @Suite struct CLIPtyTests {
        /// COMMAND: appends a line to `$1` per SIGINT, SIGQUIT, SIGTERM and SIGHUP it gets; SIGTERM
        /// ends it with 42, SIGHUP with 43. It writes its parent's pid (locky's) to `$2` once its traps are set. Its `sleep`
        /// runs in the background, where a non-interactive shell ignores SIGINT and SIGQUIT, and
        /// `wait` returns for each trapped signal, so each one's trap runs at once; the loop ends
        /// after 10 s at the latest.
        static let command = """
            trap 'echo INT >> "$1"' INT
            trap 'echo QUIT >> "$1"' QUIT
            trap 'echo TERM >> "$1"; kill $sleeper 2>/dev/null; exit 42' TERM
            trap 'echo HUP >> "$1"; kill $sleeper 2>/dev/null; exit 43' HUP
            sleep 10 & sleeper=$!
            echo $PPID > "$2.tmp" && mv "$2.tmp" "$2"
            while kill -0 $sleeper 2>/dev/null; do wait $sleeper; done
            exit 3
            """

        @Test(
            "a signal key typed in the terminal reaches COMMAND exactly once, not again through locky; COMMAND's code is locky's",
            arguments: [(UInt8(0x03), "INT"), (UInt8(0x1C), "QUIT")]
        )
        func terminalSignalReachesCommandOnce(key: UInt8, signal: String) async throws {
            try await Self.withCommand("pty") { job, lockyPID, lines, server in
                // Locky stays stopped until COMMAND has taken the terminal's signal: a copy locky
                // forwarded at once could reach COMMAND while that one is still pending, and the
                // kernel merges the two (or `sh` does, noting signals in a flag until its trap
                // runs); either way a duplicate would go unseen.
                kill(lockyPID, SIGSTOP)
                guard try await job.waitUntil("locky to stop", { Self.isStopped(lockyPID) }) else { return }
                try job.terminal.type([key])
                guard try await job.waitUntil("COMMAND to trap SIG\(signal)", { !lines().isEmpty }) else { return }
                kill(lockyPID, SIGCONT)
                // Nothing shows when locky has handled its own copy, so a duplicate it forwards gets
                // time to arrive: it comes within a millisecond when there is one (one later still
                // could only let a broken locky pass, never fail a sound one).
                try await Task.sleep(for: .milliseconds(500))
                // SIGTERM to locky alone is forwarded, and COMMAND's handler for it ends COMMAND.
                kill(lockyPID, SIGTERM)
                let status = try await job.finish()
                #expect(lines() == [signal, "TERM"], "COMMAND's signals; stderr: \(job.errorOutput)")
                #expect(status == 42, "locky exits with COMMAND's code; stderr: \(job.errorOutput)")
                #expect(try server.cli("EXISTS", "locky:{pty}") == "0", "the lock is released")
            }
        }

        /// Starts COMMAND under `locky run` in a terminal and passes `body` the job, locky's pid
        /// (COMMAND's parent, once its traps are set) and a function reading COMMAND's lines.
        static func withCommand(
            _ resource: String, _ body: (TerminalJob, Int32, () -> [String], RedisServer) async throws -> Void
        ) async throws {
            try await withRedis { server in
                let directory = FileManager.default.temporaryDirectory.path + "/locky-pty-\(UUID().uuidString)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let (count, ready) = (directory + "/count", directory + "/ready")
                let job = try TerminalJob(
                    ["run", resource, "--ttl", "10s", "--", "sh", "-c", Self.command, "sh", count, ready], url: server.url)
                defer { job.killAll() }
                func lines() -> [String] {
                    ((try? String(contentsOfFile: count, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
                }
                guard try await job.waitUntil("COMMAND to set its traps", { FileManager.default.fileExists(atPath: ready) })
                else { return }
                let lockyPID = try #require(
                    Int32(try String(contentsOfFile: ready, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
                try await body(job, lockyPID, lines, server)
            }
        }

        /// kill(2) to locky's pid reaches locky alone, whatever its place in the terminal: it
        /// used to be dropped as a presumed Ctrl-C whenever locky was the foreground job.
        @Test(
            "kill -INT / -QUIT to locky's pid while it is the terminal's foreground job reaches COMMAND exactly once",
            arguments: [(SIGINT, "INT"), (SIGQUIT, "QUIT")]
        )
        func killToLockyIsForwardedInForeground(number: Int32, signal: String) async throws {
            try await Self.withCommand("pty-kill") { job, lockyPID, lines, server in
                kill(lockyPID, number)
                guard try await job.waitUntil("COMMAND to trap SIG\(signal)", { !lines().isEmpty }) else { return }
                // Time for a second copy to arrive, were there one.
                try await Task.sleep(for: .milliseconds(500))
                kill(lockyPID, SIGTERM)
                let status = try await job.finish()
                #expect(lines() == [signal, "TERM"], "COMMAND's signals; stderr: \(job.errorOutput)")
                #expect(status == 42, "stderr: \(job.errorOutput)")
                #expect(try server.cli("EXISTS", "locky:{pty-kill}") == "0", "the lock is released")
            }
        }

        /// A terminal hang-up with locky as the session leader: the kernel's SIGHUP (si_code
        /// SI_KERNEL, like a Ctrl-C's) goes to the leader alone, so locky must pass it on.
        @Test("the terminal hangs up while locky leads its session: COMMAND gets SIGHUP once, from locky")
        func hangUpReachesCommandOnce() async throws {
            try await Self.withCommand("pty-hup") { job, lockyPID, lines, server in
                try #require(getsid(lockyPID) == lockyPID, "the harness makes locky the session leader")
                job.terminal.hangUp()
                guard try await job.waitUntil("COMMAND to trap SIGHUP", { !lines().isEmpty }) else { return }
                let status = try await job.finish()
                #expect(lines() == ["HUP"], "COMMAND's signals; stderr: \(job.errorOutput)")
                #expect(status == 43, "stderr: \(job.errorOutput)")
                #expect(try server.cli("EXISTS", "locky:{pty-hup}") == "0", "the lock is released")
            }
        }

        /// Whether every thread of `pid` is stopped (`T` in /proc: a SIGSTOP takes effect in each thread in turn).
        static func isStopped(_ pid: Int32) -> Bool {
            let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return !threads.isEmpty
                && threads.allSatisfy { thread in
                    let stat = (try? String(contentsOfFile: "/proc/\(pid)/task/\(thread)/stat", encoding: .utf8)) ?? ""
                    guard let close = stat.lastIndex(of: ")") else { return false }
                    return stat[close...].dropFirst(2).first == "T"
                }
        }

        @Test("Ctrl-C in the terminal while locky run waits for the lock: locky dies of SIGINT ($? 130), COMMAND never runs")
        func interruptWhileWaiting() async throws {
            try await withRedis { server in
                let directory = FileManager.default.temporaryDirectory.path + "/locky-pty-\(UUID().uuidString)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let ran = directory + "/ran"
                let held = try await LockyBinary.run(["lock", "pty-busy", "--locker", "other"], url: server.url)
                try #require(held.status == 0, "\(held.errorOutput)")
                let job = try TerminalJob(["run", "pty-busy", "--", "sh", "-c", "echo ran > \"$1\"", "sh", ran], url: server.url)
                defer { job.killAll() }
                // A waiter registers itself in the resource's waiters hash, after locky set up its signal handling.
                guard
                    try await job.waitUntil(
                        "locky run to wait for the lock", { try server.cli("EXISTS", "locky:{pty-busy}:waiters") == "1" })
                else { return }
                try job.terminal.type([0x03])
                _ = try await job.finish()
                // Ended by the signal (a shell shows 128+2), not exiting 130: see ctrlCStopsShellLoop.
                #expect(job.terminatingSignal == SIGINT, "stderr: \(job.errorOutput)")
                #expect(job.errorOutput.contains("interrupted while waiting for pty-busy"), "\(job.errorOutput)")
                #expect(!FileManager.default.fileExists(atPath: ran), "COMMAND must not run")
                #expect(try server.cli("GET", "locky:{pty-busy}") == "other")
            }
        }

        /// A shell that got a Ctrl-C while its child ran goes on with the script when the child
        /// exits (it handled the interrupt, the shell assumes), and stops only when the child died
        /// of SIGINT. locky exited 130, so Ctrl-C ended one `locky run` of a loop and the loop went
        /// on with the next; under flock(1) the loop stops.
        @Test(
            "Ctrl-C in a shell loop of locky run stops the loop, while COMMAND runs and while waiting, and the lock is released",
            arguments: [false, true])
        func ctrlCStopsShellLoop(waiting: Bool) async throws {
            try await withRedis { server in
                let directory = FileManager.default.temporaryDirectory.path + "/locky-pty-\(UUID().uuidString)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let (log, ready) = (directory + "/log", directory + "/ready")
                if waiting {
                    let held = try await LockyBinary.run(["lock", "pty-loop", "--locker", "other"], url: server.url)
                    try #require(held.status == 0, "\(held.errorOutput)")
                }
                let script = """
                    for i in 1 2 3; do
                      "$0" --url "$1" run pty-loop -- sh -c 'touch "$1"; exec sleep 10' sh "$2"
                      echo "after $i: $?" >> "$3"
                    done
                    echo "loop ended" >> "$3"
                    """
                let job = try TerminalJob(command: ["/bin/bash", "-c", script, LockyBinary.path, server.url, ready, log])
                defer { job.killAll() }
                let started = { () throws -> Bool in
                    waiting
                        ? try server.cli("EXISTS", "locky:{pty-loop}:waiters") == "1"
                        : FileManager.default.fileExists(atPath: ready)
                }
                guard try await job.waitUntil(waiting ? "locky run to wait" : "COMMAND to start", started) else { return }
                try job.terminal.type([0x03])
                _ = try await job.finish()
                let logged = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                #expect(logged.isEmpty, "the loop went on after Ctrl-C; stderr: \(job.errorOutput)")
                #expect(job.terminatingSignal == SIGINT, "bash stops by SIGINT; stderr: \(job.errorOutput)")
                if waiting {
                    #expect(try server.cli("GET", "locky:{pty-loop}") == "other", "the holder keeps it")
                } else {
                    #expect(try server.cli("EXISTS", "locky:{pty-loop}") == "0", "the lock is released")
                }
            }
        }
    }
#endif
