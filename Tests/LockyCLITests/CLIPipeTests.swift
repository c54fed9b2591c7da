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
    /// Writes that failed (a full disk) were dropped in silence: `locky status > file` exited 0
    /// with the file empty, so a script took "no locks" for the answer.
    @Test("output that cannot be written (a full disk) exits 1 saying so, not 0 with nothing written")
    func unwritableOutputFails() async throws {
        try LockyBinary.require()
        for arguments in [["holder", "a"], ["lock", "a", "--locker", "me"], ["demo", "--seconds", "0.2", "--json"]] {
            let (_, errorPath) = LockyBinary.outputFiles("locky-full")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: LockyBinary.path)
            process.arguments = arguments + ["--url", "memory://"]
            var environment = ProcessInfo.processInfo.environment
            for key in ["LOCKY_URL", "LOCKY_PREFIX", "LOCKY_CONFIG"] { environment[key] = nil }
            process.environment = environment
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
            process.standardError = FileHandle(forWritingAtPath: errorPath)
            try process.run()
            process.waitUntilExit()
            let errorOutput = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: errorPath)
            #expect(process.terminationStatus == 1, "\(arguments): \(errorOutput)")
            #expect(errorOutput.contains("No space left on device"), "\(arguments): \(errorOutput)")
        }
    }
}
