import Foundation
import Synchronization

extension Process {
    /// Starts the process like `run()`, but so that it can be signalled, and one at a time.
    ///
    /// A child inherits the blocked-signal mask of the spawning thread, and Swift's worker
    /// threads block most signals: the child would then ignore SIGTERM and SIGINT. `run()`
    /// spawns on the calling thread, so the mask is opened around it only. Spawns are
    /// serialized across the process: Foundation's `run()` crashed (a bad read in memmove)
    /// when several threads started children at once.
    public func runWithSignalsUnblocked() throws {
        var everything = sigset_t()
        var previous = sigset_t()
        sigfillset(&everything)
        pthread_sigmask(SIG_UNBLOCK, &everything, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let failure: (any Error)? = processSpawnLock.withLock { _ in
            do {
                try run()
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }
}

/// Serializes `Process.run()` across the whole process (see ``Foundation/Process/runWithSignalsUnblocked()``).
private let processSpawnLock = Mutex(())
