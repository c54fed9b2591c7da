import Foundation

/// What this process holds, read from /proc: open file descriptors and threads.
enum ProcessGauges {
    /// Entries of /proc/self/fd (the directory handle used to list it counts as one, every time).
    static func openFileDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    /// The `Threads:` line of /proc/self/status.
    static func threads() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix("Threads:") {
            return Int(line.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) ?? -1
        }
        return -1
    }
}
