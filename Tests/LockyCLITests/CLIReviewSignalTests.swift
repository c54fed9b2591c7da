import Foundation
import LockyTestSupport
import Testing

/// `locky run` and the signals it was started ignoring.
@Suite struct CLIReviewSignalTests {
    /// A shell script's background job (`locky run job -- ./x &`) starts with SIGINT and SIGQUIT
    /// ignored, so that a Ctrl-C meant for the script's foreground leaves it alone; `run --help`
    /// promises that a signal locky was started ignoring stays ignored. locky honoured that for
    /// SIGHUP and SIGQUIT only: an ignored SIGINT (or SIGTERM) still ended its wait for the lock.
    @Test("a SIGINT or SIGTERM locky run was started ignoring does not end its wait", arguments: ["INT", "TERM"])
    func ignoredSignalStaysIgnoredWhileWaiting(name: String) async throws {
        try LockyBinary.require()
        try await withRedis { server in
            let resource = "ignored-\(name)"
            // Held by another for 3 s: locky waits, then runs COMMAND.
            try server.cli("SET", "locky:{\(resource)}", "other", "PX", "3000")
            let (outputPath, errorPath) = LockyBinary.outputFiles("locky-ignored")
            defer {
                try? FileManager.default.removeItem(atPath: outputPath)
                try? FileManager.default.removeItem(atPath: errorPath)
            }
            let process = try LockyBinary.startIgnoring(
                name, ["run", resource, "--url", server.url, "--", "sh", "-c", "echo ran"], outputPath: outputPath,
                errorPath: errorPath)
            // Waiting for the lock by now (it is held for 3 s).
            try await Task.sleep(for: .milliseconds(1_000))
            kill(process.processIdentifier, name == "INT" ? SIGINT : SIGTERM)
            let deadline = ContinuousClock.now + .seconds(15)
            while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            let errorOutput = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            #expect(
                process.terminationReason == .exit && process.terminationStatus == 0,
                "\(process.terminationStatus): \(errorOutput)")
            #expect(output.contains("ran"), "COMMAND did not run: \(errorOutput)")
        }
    }
}
