import Foundation

/// This process's resident set size, from /proc/self/status.
enum ResidentMemory {
    static func megabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.split(separator: " ").compactMap { Double($0) }
            if let kilobytes = digits.first { return kilobytes / 1024 }
        }
        return 0
    }
}
