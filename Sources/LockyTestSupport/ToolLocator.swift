import Foundation

/// Finds the external programs the harness drives (redis-server, redis-cli, openssl).
enum ToolLocator {
    /// Returns the absolute path of an executable named `name`, searching PATH and then the usual install folders
    /// (test runners sometimes start with a minimal PATH).
    static func path(of name: String) throws(RedisHarnessError) -> String {
        let pathFolders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for folder in pathFolders + ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"] where !folder.isEmpty {
            let candidate = folder + "/" + name
            if access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw .notInstalled(name)
    }
}
