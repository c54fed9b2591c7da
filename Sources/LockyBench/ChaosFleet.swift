import Foundation
import LockyTestSupport

/// The chaos run's worker processes: started, killed, paused, replaced.
struct ChaosFleet {
    let directory: String
    let lockURL: String
    let storeURL: String
    /// The workload's options, passed to every worker (`--tasks`, `--resources`, …).
    let workload: [String]
    private(set) var running: [Process] = []
    private(set) var historyPaths: [String] = []
    /// Workers started so far (each has its own id and history file).
    private(set) var spawned = 0

    init(directory: String, lockURL: String, storeURL: String, workload: [String]) {
        self.directory = directory
        self.lockURL = lockURL
        self.storeURL = storeURL
        self.workload = workload
    }

    /// Starts one more worker.
    mutating func spawn() throws {
        spawned += 1
        let path = "\(directory)/worker-\(spawned).log"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments =
            ["chaos-worker", "--url", lockURL, "--store-url", storeURL, "--worker", String(spawned), "--history", path]
            + workload
        process.standardOutput = FileHandle.nullDevice
        try process.runWithSignalsUnblocked()
        running.append(process)
        historyPaths.append(path)
    }

    /// SIGKILL to a random worker (mid-hold, most likely).
    mutating func killOne() {
        guard let index = running.indices.randomElement() else { return }
        let process = running.remove(at: index)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGSTOP a random worker for `duration`, then SIGCONT.
    func pauseOne(for duration: Duration) async throws {
        guard let process = running.randomElement() else { return }
        kill(process.processIdentifier, SIGSTOP)
        do {
            try await Task.sleep(for: duration)
        } catch {
            kill(process.processIdentifier, SIGCONT)
            throw error
        }
        kill(process.processIdentifier, SIGCONT)
    }

    /// Stops every worker where it stands.
    mutating func killAll() {
        for process in running {
            kill(process.processIdentifier, SIGCONT)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        running.removeAll()
    }
}
