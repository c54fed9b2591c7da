import Foundation
import LockyTestSupport
import Testing

/// Streaming subcommands end when the reader of their output goes away, as `tail -f | head` does.
@Suite struct CLIPipeTests {
    /// SIGPIPE is ignored (NIO needs that), so a write to a closed pipe only fails with EPIPE;
    /// `locky watch | head -1` used to run on forever.
    @Test("locky watch | head -1 ends after the first event")
    func watchEndsWhenItsReaderIsGone() async throws {
        try LockyBinary.require()
        try await withRedis { server in
            let pipeline = Process()
            pipeline.executableURL = URL(fileURLWithPath: "/bin/sh")
            pipeline.arguments = ["-c", "'\(LockyBinary.path)' watch | head -1"]
            var environment = ProcessInfo.processInfo.environment
            for key in ["LOCKY_PREFIX", "LOCKY_CONFIG"] { environment[key] = nil }
            environment["LOCKY_URL"] = server.url
            pipeline.environment = environment
            pipeline.standardOutput = FileHandle.nullDevice
            pipeline.standardError = FileHandle.nullDevice
            try pipeline.run()
            let deadline = ContinuousClock.now + .seconds(15)
            var locks = 0
            while pipeline.isRunning, ContinuousClock.now < deadline {
                _ = try await LockyBinary.run(["lock", "piped-\(locks)", "--locker", "a"], url: server.url)
                locks += 1
                try await Task.sleep(for: .milliseconds(100))
            }
            let ended = !pipeline.isRunning
            if !ended {
                // The pipeline's own processes, by pid (locky watch would outlive the shell).
                let shell = pipeline.processIdentifier
                let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
                for child in children.split(separator: " ").compactMap({ Int32($0) }) { kill(child, SIGKILL) }
                pipeline.terminate()
            }
            pipeline.waitUntilExit()
            #expect(ended, "still running after \(locks) events")
            #expect(locks < 20, "\(locks) events before it ended")
        }
    }
}
