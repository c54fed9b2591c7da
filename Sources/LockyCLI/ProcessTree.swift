import Foundation

/// The processes COMMAND started (a script's children, a pipeline's stages), so that a lost
/// lock stops all of them, not just COMMAND's own pid: they would work on without the lock.
/// Read from /proc on Linux; elsewhere there are none, and only COMMAND is signalled.
enum ProcessTree {
    /// A process as it was seen: its pid and its start time (clock ticks since boot), so a pid
    /// the kernel has given to another process since is never signalled.
    struct Member: Hashable, Sendable {
        let pid: pid_t
        let startTime: UInt64
    }

    /// Makes locky the subreaper of the processes it started (Linux): one that COMMAND leaves
    /// behind from now on, also one it starts while it shuts down (a trap's clean-up job),
    /// becomes locky's child instead of init's, so ``ownDescendants(except:)`` still finds it.
    /// Called once COMMAND is being terminated, not before: locky does not reap adopted
    /// processes, whose zombies would pile up over a long run of a COMMAND that daemonizes.
    static func adoptOrphans() {
        #if os(Linux)
            _ = ExecTrampoline.prctl(36, 1)  // PR_SET_CHILD_SUBREAPER, from <linux/prctl.h>
        #endif
    }

    /// Every descendant of locky but `command` itself: COMMAND's processes, and those it left
    /// behind (``adoptOrphans()``), children first.
    static func ownDescendants(except command: pid_t) -> [Member] {
        descendants(of: getpid()).filter { $0.pid != command }
    }

    /// Every descendant of `root`, children first.
    static func descendants(of root: pid_t) -> [Member] {
        descendants(of: [root])
    }

    /// Every descendant of any of `roots`, children first.
    static func descendants(of roots: [pid_t]) -> [Member] {
        #if os(Linux)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
            var children: [pid_t: [Member]] = [:]
            for name in names {
                guard let pid = pid_t(name), let (parent, startTime, _) = status(of: pid) else { continue }
                children[parent, default: []].append(Member(pid: pid, startTime: startTime))
            }
            var found: [Member] = []
            var next = roots.flatMap { children[$0] ?? [] }
            while !next.isEmpty {
                found += next
                next = next.flatMap { children[$0.pid] ?? [] }
            }
            return found
        #else
            return []
        #endif
    }

    /// Sends `signal` to each member that is still the process it was.
    static func signal(_ members: [Member], _ signal: Int32) {
        for member in members where status(of: member.pid)?.startTime == member.startTime {
            _ = kill(member.pid, signal)
        }
    }

    /// Whether `member` is still the process it was and has not ended (a zombie has: it only
    /// waits for its parent, often init once COMMAND is gone, to reap it).
    static func isRunning(_ member: Member) -> Bool {
        guard let status = status(of: member.pid) else { return false }
        return status.startTime == member.startTime && !status.zombie
    }

    /// The parent pid, start time and whether it is a zombie of `pid` (fields 4, 22 and 3 of
    /// `/proc/<pid>/stat`), nil when it is gone.
    private static func status(of pid: pid_t) -> (parent: pid_t, startTime: UInt64, zombie: Bool)? {
        #if os(Linux)
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // `pid (comm) state ppid …`: the name may hold spaces and parentheses; fields
            // follow the last ')', starting with the state (field 3).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 19, let parent = pid_t(fields[1]), let startTime = UInt64(fields[19]) else { return nil }
            return (parent, startTime, fields[0] == "Z")
        #else
            return nil
        #endif
    }
}
