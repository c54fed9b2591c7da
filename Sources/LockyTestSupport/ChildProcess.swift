import Foundation
import Synchronization

/// A spawned child process whose exit is observed through Foundation's termination handler.
///
/// Foundation reaps the child (waitpid) before it calls the handler, so once ``hasExited`` is true the pid is gone and
/// no zombie is left behind.
final class ChildProcess: Sendable {
    private let exitStatus = Mutex<Int32?>(nil)
    // Kept so Foundation's bookkeeping for the child lives as long as we may wait for it.
    private let process: Process

    private init(process: Process) {
        self.process = process
        // Registered before run() so an immediate exit cannot be missed; weak so the handler keeps nothing alive.
        process.terminationHandler = { [weak self] finished in
            let status = finished.terminationStatus
            self?.exitStatus.withLock { $0 = status }
        }
    }

    /// The child's process id.
    var pid: Int32 { process.processIdentifier }

    /// Starts `executable` with `arguments`; stdin is /dev/null, stdout and stderr go to the given files (or /dev/null).
    static func spawn(
        executable: String,
        arguments: [String],
        directory: String? = nil,
        standardOutputPath: String? = nil,
        standardErrorPath: String? = nil
    ) throws(RedisHarnessError) -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory {
            process.currentDirectoryURL = URL(fileURLWithPath: directory, isDirectory: true)
        }
        process.standardInput = FileHandle.nullDevice
        let output = try outputHandle(standardOutputPath)
        let errorOutput = try outputHandle(standardErrorPath)
        process.standardOutput = output
        process.standardError = errorOutput
        // The child has copies of the output files; this process's are closed once it started
        // (or failed to): the Process keeps its handles as long as it lives, and a full test run
        // left 2,300 files open that way, past the 1,024 that select-based code can handle.
        defer {
            if standardOutputPath != nil { try? output.close() }
            if standardErrorPath != nil { try? errorOutput.close() }
        }

        let child = ChildProcess(process: process)
        do {
            // Redis must hear SIGTERM.
            try process.runWithSignalsUnblocked()
        } catch {
            throw RedisHarnessError(.startFailed, "Could not start \(executable): \(error)")
        }
        return child
    }

    private static func outputHandle(_ path: String?) throws(RedisHarnessError) -> FileHandle {
        guard let path else { return FileHandle.nullDevice }
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw RedisHarnessError(.setupFailed, "Could not create \(path)")
        }
        return handle
    }

    /// Whether the child has exited and been reaped.
    var hasExited: Bool { exitStatus.withLock { $0 != nil } }

    /// The exit status (or terminating signal) once the child has exited.
    var terminationStatus: Int32? { exitStatus.withLock { $0 } }

    /// Sends `signal` to the child unless it has already been reaped (so a recycled pid is never hit).
    func send(_ signal: Int32) {
        guard !hasExited else { return }
        _ = kill(pid, signal)
    }

    /// Blocks until the child has been reaped or `timeout` has passed; returns whether it exited.
    @discardableResult
    func waitForExit(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !hasExited {
            if ContinuousClock.now >= deadline { return false }
            usleep(1_000)
        }
        return true
    }

    /// Suspends until the child has been reaped or `timeout` has passed; returns whether it exited.
    @discardableResult
    func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !hasExited {
            if ContinuousClock.now >= deadline { return false }
            await Self.pause(milliseconds: 2)
        }
        return true
    }

    /// Sends SIGSTOP or SIGCONT and waits (up to a second) until the kernel reports the new state, so a test that
    /// pauses a server can rely on it not answering any more. Where /proc is missing it only sends the signal.
    func setStopped(_ stopped: Bool) {
        send(stopped ? SIGSTOP : SIGCONT)
        let deadline = ContinuousClock.now + .seconds(1)
        while let current = isStoppedBySignal, current != stopped, ContinuousClock.now < deadline {
            usleep(500)
        }
    }

    /// Whether /proc/<pid>/stat shows the process as stopped ("T"); nil when that cannot be read.
    private var isStoppedBySignal: Bool? {
        guard !hasExited, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let nameEnd = stat.lastIndex(of: ")")
        else { return nil }
        // The state is the first field after the parenthesised command name, which may itself contain spaces.
        let fields = stat[stat.index(after: nameEnd)...].split(separator: " ")
        guard let state = fields.first else { return nil }
        return state == "T"
    }

    /// Sleeps cooperatively; when the task is cancelled it still waits, so cleanup loops never spin.
    static func pause(milliseconds: Int) async {
        do {
            try await Task.sleep(for: .milliseconds(milliseconds))
        } catch {
            usleep(useconds_t(milliseconds * 1_000))
        }
    }
}

extension ChildProcess {
    /// Runs a short-lived command to completion and returns its exit status and output.
    ///
    /// Output goes through temporary files rather than pipes so a chatty command can never block on a full pipe while
    /// we wait for it. A command still running after `timeout` is killed and reported as an error.
    static func run(
        _ executable: String,
        _ arguments: [String],
        timeout: Duration = .seconds(10),
        displayName: String? = nil
    ) throws(RedisHarnessError) -> (status: Int32, output: String, errorOutput: String) {
        let scratch = FileManager.default.temporaryDirectory.path + "/locky-cmd-\(UUID().uuidString)"
        let outputPath = scratch + ".out"
        let errorPath = scratch + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: outputPath)
            try? FileManager.default.removeItem(atPath: errorPath)
        }
        let child = try spawn(
            executable: executable,
            arguments: arguments,
            standardOutputPath: outputPath,
            standardErrorPath: errorPath
        )
        guard child.waitForExit(timeout: timeout) else {
            child.send(SIGKILL)
            child.waitForExit(timeout: .seconds(5))
            let command = displayName ?? ([executable] + arguments).joined(separator: " ")
            throw RedisHarnessError(.timedOut, "Timed out after \(timeout): \(command)")
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let errorOutput = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        return (child.terminationStatus ?? -1, output, errorOutput)
    }
}
