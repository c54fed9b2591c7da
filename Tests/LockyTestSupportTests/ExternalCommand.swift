import Foundation

/// Runs an installed tool directly, for checks that must not go through the harness under test.
enum ExternalCommand {
    /// Runs `executable` (looked up in /usr/bin, then /usr/local/bin) and returns its exit status and combined output.
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let folder = ["/usr/bin", "/usr/local/bin"].first {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(executable)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(folder ?? "/usr/bin")/\(executable)")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read before waiting so a full pipe cannot block the child; these commands print a few lines at most.
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Whether a process with this pid exists (zombies included, so a missing reap would show).
    static func processExists(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }
}
