#if os(Linux)
    import Foundation
    import LockyTestSupport
    import Testing

    /// `locky run` killed with SIGKILL (no handler runs): COMMAND must not run on without the
    /// lock, which lapses at its TTL once renewals stop. On Linux it gets SIGKILL from the kernel.
    @Suite struct CLIParentDeathTests {
        /// Whether `pid` (started at `startTime`) has ended: gone, a zombie, or the pid reused.
        static func hasEnded(_ pid: Int32, startTime: String) -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return true }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count < 20 || fields[0] == "Z" || String(fields[19]) != startTime
        }

        /// Field 22 of `/proc/<pid>/stat`, the start time, nil when it is gone.
        static func startTime(of pid: Int32) -> String? {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 19 ? String(fields[19]) : nil
        }

        @Test("SIGKILL to locky run: COMMAND is gone within a second, not left running without the lock")
        func commandDiesWithLocky() async throws {
            try await withRedis { server in
                let pidFile = FileManager.default.temporaryDirectory.path + "/locky-pdeath-\(UUID().uuidString)"
                defer { try? FileManager.default.removeItem(atPath: pidFile) }
                // `exec`: COMMAND is the sleep itself, so nothing of its own outlives this test.
                let running = try LockyBinary.Running(
                    [
                        "run", "orphan", "--ttl", "10s", "--", "sh", "-c",
                        "echo $$ > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; exec sleep 30", "sh", pidFile,
                    ],
                    url: server.url)
                let deadline = ContinuousClock.now + .seconds(10)
                while !FileManager.default.fileExists(atPath: pidFile), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(10))
                }
                let text = try String(contentsOfFile: pidFile, encoding: .utf8)
                let commandPID = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                let started = try #require(Self.startTime(of: commandPID))
                running.signal(SIGKILL)
                let end = ContinuousClock.now + .seconds(1)
                while !Self.hasEnded(commandPID, startTime: started), ContinuousClock.now < end {
                    try await Task.sleep(for: .milliseconds(10))
                }
                let ended = Self.hasEnded(commandPID, startTime: started)
                #expect(ended, "COMMAND (pid \(commandPID)) still runs a second after locky was SIGKILLed")
                // Before waiting for locky: Process sees its end only once COMMAND, which inherited its descriptors, is gone too.
                if !ended { kill(commandPID, SIGKILL) }
                let result = try await running.finish()
                #expect(result.status == SIGKILL, "locky was killed; stderr: \(result.errorOutput)")
            }
        }

        /// The death signal follows the thread that started COMMAND: started from a Swift
        /// concurrency thread, which libdispatch ends after 5 idle seconds, it would kill COMMAND mid-run.
        @Test("COMMAND outlives libdispatch's idle-thread timeout while locky idles, and exits with its own code")
        func noSpuriousKillWhileIdle() async throws {
            try await withRedis { server in
                let result = try await LockyBinary.run(
                    ["run", "idle", "--ttl", "60s", "--", "sh", "-c", "sleep 8; exit 7"], url: server.url, timeout: .seconds(30))
                #expect(result.status == 7, "\(result.errorOutput)")
                #expect(result.elapsed >= .seconds(8))
                #expect(try server.cli("EXISTS", "locky:{idle}") == "0")
            }
        }
    }
#endif
