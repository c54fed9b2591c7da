import ArgumentParser
import Foundation
import Synchronization

/// A worker's history file: one `write(2)` per line, so a line is on disk the moment it is
/// written and a worker killed with SIGKILL loses nothing it recorded.
final class ChaosLog: Sendable {
    private let descriptor: Int32

    init(path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard descriptor >= 0 else { throw ValidationError("cannot open \(path): errno \(errno)") }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    func write(_ line: String) {
        var bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
    }
}
