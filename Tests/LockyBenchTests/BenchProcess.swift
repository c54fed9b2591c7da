import Foundation
import LockyTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the built `locky-bench` binary, with a time limit, and reads what it printed.
struct BenchRun {
    var status: Int32
    /// True when the process ended on a signal (the time limit kills it with SIGKILL).
    var signalled: Bool
    var timedOut: Bool
    var stdout: String
    var stderr: String

    /// The JSON object printed on stdout (with `--json`).
    func report() throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        return try #require(object as? [String: Any], "stdout: \(stdout)\nstderr: \(stderr)")
    }

    /// A numeric key of ``report()``; nil when absent or not a number.
    func number(_ key: String) throws -> Double? {
        (try report()[key] as? NSNumber)?.doubleValue
    }

    static var binary: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/locky-bench").path
    }

    /// Starts `locky-bench arguments`; `during` runs with its pid while it runs (to disturb it).
    static func run(
        _ arguments: [String],
        limit: Duration = .seconds(60),
        during: (Int32) async throws -> Void = { _ in }
    ) async throws -> BenchRun {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build locky-bench first (swift build)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("locky-bench-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Files, not pipes: nothing to drain while the process runs, and no pipe can fill up.
        let out = directory.appendingPathComponent("stdout")
        let err = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.runWithSignalsUnblocked()
        let pid = process.processIdentifier
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        do {
            try await during(pid)
        } catch {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            throw error
        }
        var timedOut = false
        while process.isRunning {
            if clock.now > deadline {
                // A hang is the failure some tests look for: end it, by its own pid, and say so.
                timedOut = true
                kill(pid, SIGKILL)
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        return BenchRun(
            status: process.terminationStatus,
            signalled: process.terminationReason == .uncaughtSignal,
            timedOut: timedOut,
            stdout: String(decoding: (try? Data(contentsOf: out)) ?? Data(), as: UTF8.self),
            stderr: String(decoding: (try? Data(contentsOf: err)) ?? Data(), as: UTF8.self)
        )
    }

    /// The pids of `pid`'s child processes (Linux: /proc/<pid>/task/*/children).
    static func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task -> [Int32] in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }
}
