import Foundation
import Synchronization

/// Standard output and error: plain lines on a pipe, a live view on a terminal.
enum Terminal {
    /// The errno of the first failed write to standard output, 0 while none failed.
    private static let outputError = Atomic<Int32>(0)

    /// Whether standard output's reader went away (`locky watch | head -1`) or it cannot be
    /// written (a full disk). SIGPIPE is ignored (NIO needs that), so streaming subcommands check
    /// this and stop, as a killed writer would.
    static var isOutputClosed: Bool { outputError.load(ordering: .relaxed) != 0 }

    /// `status`, or 1 (after a message on standard error) when standard output could not be
    /// written for another reason than a reader that went away: a full disk must not pass for
    /// an answer with nothing in it. A non-zero `status` stays as it is.
    static func exitStatus(after status: Int32) -> Int32 {
        let error = outputError.load(ordering: .relaxed)
        guard error != 0, error != EPIPE else { return status }
        Self.error("locky: cannot write the output: \(String(cString: strerror(error)))")
        return status == 0 ? 1 : status
    }

    /// Whether standard output is a terminal (live views) rather than a pipe or file (plain lines).
    static var isInteractive: Bool { isatty(STDOUT_FILENO) == 1 }

    /// Whether this process belongs to the foreground job of its controlling terminal: a Ctrl-C
    /// there signals the whole job, children that share the process group included.
    static var isForegroundJob: Bool {
        let terminal = open("/dev/tty", O_RDONLY | O_NOCTTY)
        guard terminal >= 0 else { return false }
        defer { close(terminal) }
        return tcgetpgrp(terminal) == getpgrp()
    }

    /// Writes one line to standard output and flushes it, so streams reach a pipe at once.
    static func line(_ text: String) {
        write(text + "\n", to: STDOUT_FILENO)
    }

    /// Writes one line to standard error.
    static func error(_ text: String) {
        write(text + "\n", to: STDERR_FILENO)
    }

    /// Writes text as it is (ANSI sequences included) to standard output.
    static func raw(_ text: String) {
        write(text, to: STDOUT_FILENO)
    }

    /// Writes `value` as one JSON line.
    static func json(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return }
        line(String(decoding: data, as: UTF8.self))
    }

    private static func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                if descriptor == STDOUT_FILENO {
                    _ = outputError.compareExchange(expected: 0, desired: errno, ordering: .relaxed)
                }
                return
            }
            bytes = bytes.dropFirst(written)
        }
    }

    /// ANSI: move home and clear the screen.
    static let clearScreen = "\u{1B}[H\u{1B}[2J"
    /// ANSI: move home (redraw over the previous frame).
    static let home = "\u{1B}[H"
    /// ANSI: clear from the cursor to the end of the screen.
    static let clearToEnd = "\u{1B}[J"
    /// ANSI: clear from the cursor to the end of the line.
    static let clearLine = "\u{1B}[K"
    /// ANSI: hide and show the cursor.
    static let hideCursor = "\u{1B}[?25l"
    static let showCursor = "\u{1B}[?25h"
    /// ANSI: bold, dim, green, red, yellow, reset.
    static let bold = "\u{1B}[1m"
    static let dim = "\u{1B}[2m"
    static let green = "\u{1B}[32m"
    static let red = "\u{1B}[31m"
    static let yellow = "\u{1B}[33m"
    static let reset = "\u{1B}[0m"
}

/// Formats durations for people: `850ms`, `12.3s`, `4m05s`, `no expiry`.
func formatDuration(_ duration: Duration?) -> String {
    guard let duration else { return "no expiry" }
    let milliseconds = duration.milliseconds
    if milliseconds < 1_000 { return "\(milliseconds)ms" }
    if milliseconds < 60_000 { return String(format: "%.1fs", Double(milliseconds) / 1_000) }
    let seconds = milliseconds / 1_000
    if seconds < 3_600 { return String(format: "%dm%02ds", seconds / 60, seconds % 60) }
    return String(format: "%dh%02dm", seconds / 3_600, (seconds % 3_600) / 60)
}

extension Duration {
    /// Whole milliseconds (truncated).
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}

/// A wall-clock timestamp for event lines: `2025-01-31T12:00:01.234Z`.
func timestamp() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var seconds = now.tv_sec
    var parts = tm()
    gmtime_r(&seconds, &parts)
    return String(
        format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
        Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
        Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(now.tv_nsec / 1_000_000)
    )
}

/// Nanoseconds on the monotonic clock, comparable between processes on one machine.
func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
