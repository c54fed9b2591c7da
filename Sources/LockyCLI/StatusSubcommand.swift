import ArgumentParser
import Foundation
import Locky
import LockyRESP
import LockyRedis

/// One held lock, as `status` shows it.
struct HeldLock: Encodable, Sendable {
    var resource: String
    var holder: String
    var remainingMs: Int64?
    var fencingToken: Int64?
}

/// `locky status`.
struct StatusSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List every held lock: resource, holder, remaining TTL, fencing token.",
        discussion: """
            Finds locks with SCAN (never KEYS), so it is safe on a busy server. Prints \
            `resource<TAB>holder<TAB>remaining<TAB>token`, one lock per line. On Redlock every \
            node is scanned (those that answer within the node timeout; a majority must), and a \
            lock found on any of them is listed when a majority of nodes names its holder.

            With --watch on a terminal the list is redrawn every second, like top, until Ctrl-C; \
            on a pipe a new block (or, with --json, a JSON line per snapshot) follows every second.

            Examples:
              locky status
              locky status --match 'article:*' --json
              locky status --watch
            """
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "Only resources matching this glob (article:*).")
    var match: String?

    @Flag(help: "Refresh every second until interrupted.")
    var watch = false

    func run() async throws {
        let (options, match, watch) = (options, match.map(ResourcePattern.init), watch)
        let configuration = try options.redisConfiguration(for: "status")
        try await withLockClient(options) { client in
            let scanner = LockScanner(client: client, pattern: match)
            if !watch {
                let locks = try await scanner.snapshot()
                if options.json {
                    for lock in locks { Terminal.json(lock) }
                } else {
                    for lock in locks { Terminal.line(plainLine(lock)) }
                }
                return ExitStatus.success
            }
            let interactive = Terminal.isInteractive && !options.json
            let address = CLIError.address(of: configuration)
            if interactive { Terminal.raw(Terminal.hideCursor + Terminal.clearScreen) }
            defer { if interactive { Terminal.raw(Terminal.showCursor) } }
            try await untilInterrupted {
                var first = true
                var failing = false
                while !Task.isCancelled {
                    let locks: [HeldLock]
                    do {
                        locks = try await scanner.snapshot()
                        if failing { Terminal.error("locky: Redis answers again") }
                        failing = false
                    } catch let error as LockError
                        where (error.code == .backendUnavailable || error.code == .quorumNotReached) && !first
                    {
                        // Ride out a restart or a blip, as `watch` does; a server unreachable at the start still exits 69.
                        if !failing { Terminal.error("locky: \(error.message); retrying every second") }
                        failing = true
                        try await Task.sleep(for: .seconds(1))
                        continue
                    }
                    if interactive {
                        Terminal.raw(
                            StatusScreen.render(
                                locks: locks, address: address, prefix: configuration.prefix, pattern: match?.pattern)
                        )
                    } else if options.json {
                        Terminal.json(StatusSnapshot(time: timestamp(), locks: locks))
                    } else {
                        if !first { Terminal.line("") }
                        Terminal.line("# \(timestamp()) \(locks.count) lock\(locks.count == 1 ? "" : "s")")
                        for lock in locks { Terminal.line(plainLine(lock)) }
                    }
                    first = false
                    if Terminal.isOutputClosed { return }
                    try await Task.sleep(for: .seconds(1))
                }
            }
            return ExitStatus.success
        }
    }
}

/// One `status --watch --json` line.
struct StatusSnapshot: Encodable {
    var time: String
    var locks: [HeldLock]
}

private func plainLine(_ lock: HeldLock) -> String {
    TextField.record([
        TextField.escape(lock.resource), TextField.escape(lock.holder),
        formatDuration(lock.remainingMs.map { .milliseconds($0) }),
        lock.fencingToken.map(String.init) ?? TextField.none,
    ])
}

/// Finds held locks with ``LockClient/heldLocks(matching:)``: SCAN on every node (on Redlock a
/// majority must answer, and each node's SCAN waits at most the node timeout), then the holders
/// in batches with the quorum rule, so a lock on a node restarted empty is still listed and a
/// key left on a minority is not.
struct LockScanner: Sendable {
    let client: LockClient
    let pattern: ResourcePattern?

    /// Every held lock, sorted by resource.
    func snapshot() async throws -> [HeldLock] {
        try await client.heldLocks(matching: pattern?.pattern).map { lock in
            HeldLock(
                resource: lock.resource,
                holder: lock.outcome.displayName,
                remainingMs: lock.outcome.remaining?.milliseconds,
                fencingToken: lock.outcome.fencingToken
            )
        }
    }
}

/// The live `status --watch` screen.
enum StatusScreen {
    static func render(locks: [HeldLock], address: String, prefix: String, pattern: String?) -> String {
        let size = terminalSize()
        var out = Terminal.home
        let filter = pattern.map { " matching \($0)" } ?? ""
        out += "\(Terminal.bold)locky status\(Terminal.reset)  \(address)  prefix \(prefix)\(filter)  "
        out +=
            "\(locks.count) lock\(locks.count == 1 ? "" : "s") held  \(Terminal.dim)\(timestamp())  Ctrl-C quits\(Terminal.reset)"
        out += Terminal.clearLine + "\n" + Terminal.clearLine + "\n"
        // Escaped as in the plain output: a name's line break or ESC would otherwise tear the screen.
        let names = locks.map { (resource: TextField.escape($0.resource), holder: TextField.escape($0.holder)) }
        let resourceWidth = min(max(8, names.map(\.resource.count).max() ?? 0), max(8, size.columns / 2))
        let holderWidth = min(max(6, names.map(\.holder.count).max() ?? 0), max(6, size.columns / 3))
        out += Terminal.bold + pad("RESOURCE", resourceWidth) + "  " + pad("HOLDER", holderWidth) + "  "
        out += pad("TTL", 10, right: true) + "  " + pad("TOKEN", 8, right: true) + Terminal.reset + Terminal.clearLine + "\n"
        let rows = max(1, size.rows - 5)
        for (index, lock) in locks.enumerated() {
            if index == rows - 1, locks.count > rows {
                out += "\(Terminal.dim)… \(locks.count - index) more\(Terminal.reset)" + Terminal.clearLine + "\n"
                break
            }
            let ttl = formatDuration(lock.remainingMs.map { .milliseconds($0) })
            let ttlColor = (lock.remainingMs ?? Int64.max) < 2_000 ? Terminal.yellow : ""
            out += pad(names[index].resource, resourceWidth) + "  " + pad(names[index].holder, holderWidth) + "  "
            out += ttlColor + pad(ttl, 10, right: true) + Terminal.reset + "  "
            out += pad(lock.fencingToken.map(String.init) ?? "-", 8, right: true) + Terminal.clearLine + "\n"
        }
        if locks.isEmpty { out += "\(Terminal.dim)(no locks held)\(Terminal.reset)" + Terminal.clearLine + "\n" }
        return out + Terminal.clearToEnd
    }
}

/// Pads or truncates `text` to `width` characters.
func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    if text.count > width { return String(text.prefix(max(0, width - 1))) + "…" }
    let padding = String(repeating: " ", count: width - text.count)
    return right ? padding + text : text + padding
}

/// The terminal's rows and columns (24×80 when unknown).
func terminalSize() -> (rows: Int, columns: Int) {
    var size = winsize()
    guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 else { return (24, 80) }
    return (Int(size.ws_row), Int(size.ws_col))
}
