import Foundation
import LockyTestSupport
import Testing

/// Review of `locky run` against the README's promises (session 19).
@Suite struct CLIReviewTests {
    /// COMMAND (`sh`) starts a process that ignores SIGTERM, writes its pid to `pidFile`, and waits.
    /// The SIGTERM that ends `sh` leaves that process running, reparented away from COMMAND.
    static func stubbornChild(_ pidFile: String) -> [String] {
        ["sh", "-c", "(trap '' TERM; exec sleep 30) & echo $! > \(pidFile); echo started; wait"]
    }

    /// The pid written to `pidFile` (nil until it is there, whole).
    static func readPid(_ pidFile: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), text.hasSuffix("\n") else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Whether `pid` runs (not gone, not a zombie left for its new parent to reap).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"), stat.distance(from: close, to: stat.endIndex) > 2
        else { return false }
        return stat[stat.index(close, offsetBy: 2)] != "Z"
    }

    /// Waits until the stubborn child's pid is known; nil (an issue recorded) when it never is.
    static func waitForPid(_ pidFile: String, _ running: LockyBinary.Running) async throws -> pid_t? {
        try await running.waitFor { $0.contains("started") }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let pid = readPid(pidFile) { return pid }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("COMMAND never wrote its child's pid")
        return nil
    }

    /// Before the fix both tests below failed in `finish` ("did not finish"): Foundation's Process
    /// reported locky running for as long as the stray process lived (30 s), though locky had exited.
    ///
    /// The README: on a lost lock "COMMAND and the processes it started got SIGTERM, then SIGKILL
    /// after --kill-after". The SIGKILL was a timer in locky, which exited as soon as COMMAND did:
    /// a started process that ignored SIGTERM ran on without the lock.
    @Test("a lost lock: a process COMMAND started that ignores SIGTERM gets SIGKILL after --kill-after, even when COMMAND exited")
    func lostLockKillsStubbornDescendants() async throws {
        try await withRedis { server in
            let pidFile = FileManager.default.temporaryDirectory.path + "/locky-review-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: pidFile) }
            let running = try LockyBinary.Running(
                ["run", "stubborn", "--ttl", "3s", "--kill-after", "1s", "--"] + Self.stubbornChild(pidFile),
                url: server.url)
            guard let child = try await Self.waitForPid(pidFile, running) else {
                running.signal(SIGKILL)
                return
            }
            defer { kill(child, SIGKILL) }
            try server.cli("SET", "locky:{stubborn}", "thief")
            let result = try await running.finish(timeout: .seconds(15))
            #expect(result.status == 76, "\(result.errorOutput)")
            // locky ends once the SIGKILL went out; give the kernel a moment to end the process.
            let deadline = ContinuousClock.now + .seconds(2)
            while Self.isRunning(child), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(!Self.isRunning(child), "the process COMMAND started (pid \(child)) still runs without the lock")
        }
    }

    /// Cut off from Redis, the watchdog promises COMMAND "gone before another process can take
    /// the lock" (SIGKILL at the validity's end). With the server gone (its release refused at
    /// once), locky exited 76 as soon as COMMAND died of the SIGTERM, and a process COMMAND had
    /// started that ignored SIGTERM ran on past the validity, its SIGKILL timer gone with locky.
    @Test("Redis gone: a process COMMAND started that ignores SIGTERM is gone by the end of the validity")
    func unrenewableLockKillsStubbornDescendants() async throws {
        try await withRedis { server in
            let pidFile = FileManager.default.temporaryDirectory.path + "/locky-review-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: pidFile) }
            let running = try LockyBinary.Running(
                ["run", "stubborn-cut", "--ttl", "3s", "--"] + Self.stubbornChild(pidFile), url: server.url)
            guard let child = try await Self.waitForPid(pidFile, running) else {
                running.signal(SIGKILL)
                return
            }
            defer { kill(child, SIGKILL) }
            let cut = ContinuousClock.now
            server.kill()
            let result = try await running.finish(timeout: .seconds(20))
            #expect(result.status == 76, "\(result.errorOutput)")
            // The lease was valid for less than its 3 s TTL after the cut; 1.5 s more for a loaded machine.
            while Self.isRunning(child), ContinuousClock.now < cut + .milliseconds(4_500) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(!Self.isRunning(child), "the process COMMAND started (pid \(child)) outlived the lock's validity")
        }
    }
}
