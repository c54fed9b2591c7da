import Foundation
import Synchronization

/// The write end of ``SignalPipe``'s pipe, for the signal handler (-1 until it exists).
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// The signals whose handler has run, bit N-1 for signal N: set in the handler itself (a
/// lock-free atomic is async-signal-safe), so it is known before the pipe's reader gets to it.
private let signalsHandled = Atomic<UInt64>(0)

/// The SA_SIGINFO handler: one record (number, `si_code`, `si_pid`) to the pipe; only
/// async-signal-safe calls, errno left as it was. A full pipe drops the record rather than block.
func signalPipeHandler(_ number: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _: UnsafeMutableRawPointer?) {
    let savedErrno = errno
    defer { errno = savedErrno }
    if (1...64).contains(number) { signalsHandled.bitwiseOr(1 << UInt64(number - 1), ordering: .relaxed) }
    var record: (Int32, Int32, Int32) = (number, 0, 0)
    if let info {
        #if os(Linux)
            record = (number, info.pointee.si_code, info.pointee._sifields._kill.si_pid)
        #else
            record = (number, info.pointee.si_code, info.pointee.si_pid)
        #endif
    }
    let descriptor = signalPipeWriteEnd.load(ordering: .acquiring)
    guard descriptor >= 0 else { return }
    _ = withUnsafeBytes(of: &record) { write(descriptor, $0.baseAddress, $0.count) }
}

/// The process's one signal pipe and its reader thread, made on first use and kept for the
/// process's life: a handler on another thread may still be writing when a watcher is cancelled,
/// so the descriptors are never closed (and never reused for something else).
final class SignalPipe: Sendable {
    static let shared = SignalPipe()

    private let handlers = Mutex<[Int32: @Sendable (ReceivedSignal) -> Void]>([:])

    private init() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
        let readEnd = ends[0]
        signalPipeWriteEnd.store(ends[1], ordering: .releasing)
        Thread.detachNewThread { [self] in
            Thread.current.name = "locky-signals"
            readRecords(from: readEnd)
        }
    }

    /// Whether `signal` has reached this process, even if the reader thread has not passed it on
    /// yet: its handler ran, or it waits for delivery (pending while the calling thread blocks it,
    /// as Swift's threads do; were it not blocked here, it would be delivered to this thread).
    static func hasArrived(_ signal: Int32) -> Bool {
        guard (1...64).contains(signal) else { return false }
        var pending = sigset_t()
        if sigpending(&pending) == 0, sigismember(&pending, signal) == 1 { return true }
        // Read after sigpending: one delivered to this thread as that call returned has run its handler.
        return signalsHandled.load(ordering: .relaxed) & (1 << UInt64(signal - 1)) != 0
    }

    func register(_ signals: [Int32], _ handler: @escaping @Sendable (ReceivedSignal) -> Void) {
        handlers.withLock { handlers in
            for number in signals { handlers[number] = handler }
        }
    }

    func unregister(_ signals: [Int32]) {
        handlers.withLock { handlers in
            for number in signals { handlers[number] = nil }
        }
    }

    /// Reads records for ever (a record is written whole: 12 bytes, less than PIPE_BUF).
    private func readRecords(from descriptor: Int32) {
        var record: (Int32, Int32, Int32) = (0, 0, 0)
        let size = MemoryLayout.size(ofValue: record)
        while true {
            let count = withUnsafeMutableBytes(of: &record) { read(descriptor, $0.baseAddress, size) }
            if count < 0, errno == EINTR { continue }
            guard count == size else { return }
            let received = ReceivedSignal(number: record.0, code: record.1, sender: record.2)
            let handler = handlers.withLock { $0[received.number] }
            handler?(received)
        }
    }
}
