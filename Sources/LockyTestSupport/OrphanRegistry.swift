import Foundation

/// Records the pid of every running test server in `${TMPDIR:-/tmp}/locky-test-servers/<pid>.pid`.
///
/// A test process that crashes cannot stop its servers; scripts/stop-test-servers.sh reads these files and kills
/// exactly those pids, so stray servers are cleaned up without ever killing processes by name.
enum OrphanRegistry {
    static var directory: String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/locky-test-servers"
    }

    /// Records a started server; the file holds the server's folder so the script can remove it too.
    static func register(pid: Int32, serverDirectory: String) {
        let folder = directory
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // Best effort: failing to record must not fail a test, it only weakens crash cleanup.
        try? (serverDirectory + "\n").write(toFile: "\(folder)/\(pid).pid", atomically: true, encoding: .utf8)
    }

    /// Forgets a server whose process is gone.
    static func unregister(pid: Int32) {
        try? FileManager.default.removeItem(atPath: "\(directory)/\(pid).pid")
    }
}
