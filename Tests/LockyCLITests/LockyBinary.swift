import Foundation
import LockyTestSupport
import Synchronization
import Testing

/// Runs the built `locky` executable (`.build/debug/locky`) as a child process.
enum LockyBinary {
    /// `<package>/.build/debug/locky`, found from this file's path.
    static var path: String {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return packageRoot.appendingPathComponent(".build/debug/locky").path
    }

    /// Fails the test with a clear message when the binary was not built.
    static func require() throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            Issue.record("locky is not built at \(path): run `swift build` (or `swift build --build-tests`) first")
            throw MissingBinary()
        }
    }

    struct MissingBinary: Error {}

    /// Starts `locky arguments` through env(1), which execs it (keeping env's pid) with the
    /// signal `name` (`INT`, `TERM`, …) ignored, as a shell starts a background job
    /// (`locky watch &`); without the LOCKY_ variables of the test's environment.
    static func startIgnoring(_ name: String, _ arguments: [String], outputPath: String, errorPath: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--default-signal=INT,TERM,HUP,QUIT", "--ignore-signal=\(name)", path] + arguments
        var environment = ProcessInfo.processInfo.environment
        for key in ["LOCKY_URL", "LOCKY_PREFIX", "LOCKY_CONFIG"] { environment[key] = nil }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        try process.runWithSignalsUnblocked()
        return process
    }

    /// Two new empty temporary files for a child's standard output and error, named after `label`.
    static func outputFiles(_ label: String) -> (output: String, error: String) {
        let scratch = FileManager.default.temporaryDirectory.path + "/\(label)-\(UUID().uuidString)"
        let files = (output: scratch + ".out", error: scratch + ".err")
        _ = FileManager.default.createFile(atPath: files.output, contents: nil)
        _ = FileManager.default.createFile(atPath: files.error, contents: nil)
        return files
    }

    /// What a finished run printed and how it ended.
    struct Result {
        var status: Int32
        var output: String
        var errorOutput: String
        var elapsed: Duration

        var lines: [String] { output.split(separator: "\n").map(String.init) }
    }

    /// Runs `locky arguments` to completion (killed after `timeout`).
    static func run(
        _ arguments: [String],
        url: String? = nil,
        environment extra: [String: String] = [:],
        timeout: Duration = .seconds(20)
    ) async throws -> Result {
        let process = try Running(arguments, url: url, environment: extra)
        return try await process.finish(timeout: timeout)
    }

    /// A running `locky` process whose output goes to temporary files.
    final class Running: Sendable {
        let process: Process
        let outputPath: String
        let errorPath: String
        let started = ContinuousClock.now

        init(_ arguments: [String], url: String? = nil, environment extra: [String: String] = [:]) throws {
            try LockyBinary.require()
            (outputPath, errorPath) = LockyBinary.outputFiles("locky-cli-test")
            process = Process()
            process.executableURL = URL(fileURLWithPath: LockyBinary.path)
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            for key in ["LOCKY_URL", "LOCKY_PREFIX", "LOCKY_CONFIG"] { environment[key] = nil }
            if let url { environment["LOCKY_URL"] = url }
            environment.merge(extra) { $1 }
            process.environment = environment
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle(forWritingAtPath: outputPath)
            process.standardError = FileHandle(forWritingAtPath: errorPath)
            try process.runWithSignalsUnblocked()
        }

        var pid: Int32 { process.processIdentifier }

        /// What was printed so far.
        var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
        var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

        func signal(_ number: Int32) {
            if process.isRunning { kill(process.processIdentifier, number) }
        }

        /// Waits until `condition` holds for what was printed (stdout + stderr), at most `timeout`.
        func waitFor(_ timeout: Duration = .seconds(10), _ condition: (String) -> Bool) async throws {
            let deadline = ContinuousClock.now + timeout
            while !condition(output + errorOutput) {
                if ContinuousClock.now >= deadline || !process.isRunning {
                    Issue.record("timed out waiting; stdout: \(output) stderr: \(errorOutput)")
                    return
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }

        /// Waits for the exit (SIGKILL after `timeout`) and returns the result.
        func finish(timeout: Duration = .seconds(20)) async throws -> Result {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning {
                if ContinuousClock.now >= deadline {
                    let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
                    let signals = status.split(separator: "\n").filter { $0.hasPrefix("State") || $0.hasPrefix("PPid") }
                    kill(process.processIdentifier, SIGKILL)
                    process.waitUntilExit()
                    Issue.record(
                        "locky \(process.arguments ?? []) did not finish within \(timeout); stdout: \(output) stderr: \(errorOutput) \(signals)"
                    )
                    break
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            process.waitUntilExit()
            let elapsed = ContinuousClock.now - started
            let result = Result(status: process.terminationStatus, output: output, errorOutput: errorOutput, elapsed: elapsed)
            try? FileManager.default.removeItem(atPath: outputPath)
            try? FileManager.default.removeItem(atPath: errorPath)
            return result
        }
    }
}

/// Runs `body` with a fresh redis-server.
func withRedis<T>(_ body: (RedisServer) async throws -> T) async throws -> T {
    try await RedisServer.withServer { server in try await body(server) }
}
