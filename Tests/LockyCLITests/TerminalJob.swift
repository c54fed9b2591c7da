#if os(Linux)
    import Foundation
    import LockyTestSupport
    import Testing

    /// `locky` started as the foreground job of a terminal: in a session of its own whose
    /// controlling terminal is a ``PseudoTerminal`` (`setsid -c`), so what is typed there reaches
    /// locky and the COMMAND it runs as a terminal's Ctrl-C would.
    final class TerminalJob {
        let terminal: PseudoTerminal
        let process: Process
        let outputPath: String
        let errorPath: String

        /// `locky --url URL arguments…` as the terminal's foreground job.
        convenience init(_ arguments: [String], url: String) throws {
            try self.init(command: [LockyBinary.path, "--url", url] + arguments)
        }

        /// `command` (an executable and its arguments, such as a shell running locky) as the terminal's foreground job.
        init(command: [String]) throws {
            try LockyBinary.require()
            terminal = try PseudoTerminal()
            (outputPath, errorPath) = LockyBinary.outputFiles("locky-pty-test")
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
            // -c: the terminal on standard input becomes the controlling one; -w: setsid forks
            // when it is a process group leader, and must then wait and pass locky's status on.
            // env: locky must start with the default actions, as from a shell, whatever the test
            // runner ignores (an ignored SIGINT would stay ignored in COMMAND, trap or not).
            process.arguments =
                ["-c", "-w", "/usr/bin/env", "--default-signal=INT,QUIT,TERM,HUP"] + command
            var environment = ProcessInfo.processInfo.environment
            for key in ["LOCKY_URL", "LOCKY_PREFIX", "LOCKY_CONFIG"] { environment[key] = nil }
            process.environment = environment
            process.standardInput = FileHandle(fileDescriptor: terminal.slave, closeOnDealloc: false)
            process.standardOutput = FileHandle(forWritingAtPath: outputPath)
            process.standardError = FileHandle(forWritingAtPath: errorPath)
            try process.runWithSignalsUnblocked()
        }

        deinit {
            try? FileManager.default.removeItem(atPath: outputPath)
            try? FileManager.default.removeItem(atPath: errorPath)
        }

        var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
        var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

        /// Waits until `condition` holds (polled every 10 ms), at most `timeout`; false (and an
        /// issue naming `what`) when it did not, or when the job ended first.
        func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () throws -> Bool) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while try !condition() {
                if !process.isRunning || ContinuousClock.now >= deadline {
                    let why = process.isRunning ? "timed out after \(timeout)" : "locky ended first"
                    Issue.record("waiting for \(what): \(why); stdout: \(output) stderr: \(errorOutput)")
                    return false
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            return true
        }

        /// Waits for the job to end and returns its exit status; after `timeout` it is killed
        /// (setsid, locky and COMMAND, by pid), an issue recorded and nil returned.
        func finish(timeout: Duration = .seconds(10)) async throws -> Int32? {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning {
                if ContinuousClock.now >= deadline {
                    killAll()
                    process.waitUntilExit()
                    Issue.record("locky did not end within \(timeout); stdout: \(output) stderr: \(errorOutput)")
                    return nil
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            return process.terminationStatus
        }

        /// The signal that ended the job, once it ended by one (nil while it runs or when it exited).
        /// setsid, when it forked (see `init`), reports a child killed by a signal as "did not
        /// exit normally" and exits with the wait status, whose low bits are the signal.
        var terminatingSignal: Int32? {
            guard !process.isRunning else { return nil }
            if process.terminationReason == .uncaughtSignal { return process.terminationStatus }
            return errorOutput.contains("did not exit normally") ? process.terminationStatus & 0x7f : nil
        }

        /// SIGKILL to the job's processes, leaves first, each by pid; nothing once it ended
        /// (then its pid, reaped, may be another process's).
        func killAll() {
            guard process.isRunning else { return }
            func descendants(of pid: Int32) -> [Int32] {
                let path = "/proc/\(pid)/task/\(pid)/children"
                let children = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: " ")
                    .compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                return children.flatMap { descendants(of: $0) + [$0] }
            }
            for pid in descendants(of: process.processIdentifier) + [process.processIdentifier] { kill(pid, SIGKILL) }
        }
    }
#endif
