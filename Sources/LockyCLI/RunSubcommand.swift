import ArgumentParser
import Foundation
import Locky
import Synchronization

/// `locky run`: flock(1) across machines.
struct RunSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run COMMAND while holding a lock, like flock(1) across machines.",
        discussion: """
            Waits for RESOURCE (without limit unless --wait or --no-wait says otherwise), renews \
            the lock while COMMAND runs (every third of --ttl) and releases it when COMMAND ends. \
            COMMAND gets LOCKY_RESOURCE and LOCKY_FENCING_TOKEN in its environment.

            SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to locky run are forwarded to COMMAND (one \
            locky was started ignoring, as under nohup or in a script's background job, stays \
            ignored, by locky and COMMAND; one the kernel sent to the \
            whole process group, as for a Ctrl-C or Ctrl-\\ typed in the terminal, reached \
            COMMAND directly and is not sent again; one sent to the group with kill, as by \
            kill %1, reaches it twice); the lock is released once COMMAND has exited. If the lock is lost while COMMAND runs (it expired or was \
            taken), COMMAND gets SIGTERM, and SIGKILL after --kill-after. If it cannot be \
            renewed (Redis unreachable), COMMAND gets SIGTERM before the lock's validity ends \
            (--kill-after before, at most a third of --ttl) and SIGKILL at its end, so it is gone \
            before another process can take the lock. If locky itself is killed (SIGKILL), the \
            lock lapses at its TTL; on Linux COMMAND is killed with it (not the processes it \
            started).

            Exit status: COMMAND's (128+N when a signal N ended it); 75 when the lock was not \
            acquired; 76 when it was lost while COMMAND ran; 127/126 when COMMAND cannot be \
            started; 128+N when signal N interrupted the wait. When locky itself got the signal \
            that ended COMMAND or the wait (a Ctrl-C, a kill), it ends by that signal once the \
            lock is released, like flock, so a shell script looping over locky run stops.

            Examples:
              locky run nightly-report -- ./report.sh --date today
              locky run deploy --no-wait -- make deploy          # skip when a deploy is running
              locky run invoice:42 --wait 30s --ttl 10s -- ./charge 42
              locky run --resource -nightly -- ./job.sh          # a name that starts with -
              # crontab: at most one backup across all machines
              0 3 * * *  locky --url redis://locks.internal run backup --no-wait -- /usr/local/bin/backup
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The resource to lock.")
    var resource: String?

    // `--` starts COMMAND here, so it cannot end the options before a resource named `-x`.
    @Option(
        name: .customLong("resource"), parsing: .unconditional,
        help: ArgumentHelp("The resource to lock, for a name that starts with - (--resource -x).", valueName: "resource"))
    var resourceOption: String?

    /// RESOURCE or `--resource`, whichever was given (``validate()`` makes sure one was).
    var lockedResource: String { resourceOption ?? resource ?? "" }

    @Option(
        parsing: .unconditional,
        help: "Lock TTL (at least 100ms), renewed every third of it while COMMAND runs (default: LOCKY_CONFIG's ttl, else 30s).")
    var ttl: DurationArgument?

    @Option(
        parsing: .unconditional,
        help: "Wait at most this long for the lock; 0 does not wait, as --no-wait (default: without limit).")
    var wait: DurationArgument?

    @Flag(help: "Do not wait: exit 75 at once when the lock is busy.")
    var noWait = false

    @Option(help: "A readable label shown as the holder (default: LOCKY_CONFIG's label, else host:pid).")
    var locker: String?

    @Option(
        name: .customLong("kill-after"), parsing: .unconditional,
        help: "Grace period between SIGTERM and SIGKILL when the lock is lost; 0 sends both at once (default 5s).")
    var killAfter: DurationArgument?

    @Argument(parsing: .postTerminator, help: "The command to run, after --.")
    var command: [String] = []

    func validate() throws {
        if resource != nil && resourceOption != nil { throw ValidationError("give RESOURCE or --resource, not both") }
        guard let resource = resourceOption ?? resource else {
            throw ValidationError(
                "give the resource to lock, e.g. locky run nightly -- ./job.sh (--resource -x for one starting with -)")
        }
        try validateResources([resource])
        if command.isEmpty { throw ValidationError("give the command to run after --, e.g. locky run \(resource) -- ./job.sh") }
        if noWait && wait != nil { throw ValidationError("--wait and --no-wait exclude each other") }
        if locker?.isEmpty == true { throw ValidationError("the locker label is empty") }
        try ttl?.validateAsTTL()
        try validateUTF8([resource, locker], commandCount: command.count)
    }

    func run() async throws {
        let resource = lockedResource
        let command = CommandBytes.trailingArguments(decoding: command)
        // Nil: the configuration's (LOCKY_CONFIG's `ttl`, else 30 s).
        let (ttlArgument, ttl) = (ttl, ttl?.duration)
        let timeout: Duration? = noWait ? .zero : wait?.duration
        let locker = locker
        let grace = killAfter?.duration ?? .seconds(5)
        // Before locky changes any (the watcher below; NIO ignores SIGPIPE): COMMAND inherits
        // what locky inherited, so `nohup` or a shell's ignored signals still protect it.
        let inherited = SpawnedCommand.InheritedSignals.capture()
        let relay = SignalRelay()
        // A hang-up (a closed terminal or SSH session) or a quit would otherwise end locky at
        // once and leave COMMAND running without the lock, the lock held until its TTL ran out.
        // One that locky was started ignoring stays ignored, by locky too: `nohup`'s SIGHUP, a
        // script's background job's SIGINT and SIGQUIT (a Ctrl-C there must not end its wait).
        let relayed = [SIGINT, SIGTERM, SIGHUP, SIGQUIT].filter { !inherited.ignored.contains($0) }
        let watcher = SignalWatcher(signals: relayed) { relay.received($0) }
        defer { watcher.cancel() }

        do {
            try await withLockClient(
                options,
                adjust: { configuration throws(CLIError) in
                    try configuration.checkLeaseTTL(unless: ttlArgument)
                    configuration.label = locker ?? configuration.label ?? "\(ProcessInfo.processInfo.hostName):\(getpid())"
                }
            ) { client in
                let outcome: Int32? = try await withThrowingTaskGroup(of: Int32?.self) { group in
                    group.addTask {
                        // withLock gives the lock back whatever happened, but says nothing when that
                        // failed (Redis gone): the lock then stays held until its TTL, and the user
                        // must learn why the next `locky run` of it waits.
                        let taken = Mutex<Lease?>(nil)
                        defer { Self.reportUnreleased(taken.withLock { $0 }, resource: resource) }
                        do {
                            return try await client.withLock(resource, ttl: ttl, timeout: timeout) { lease in
                                taken.withLock { $0 = lease }
                                let environment = CommandBytes.environment(replacing: [
                                    "LOCKY_RESOURCE": resource, "LOCKY_FENCING_TOKEN": String(lease.fencingToken),
                                ])
                                let child: SpawnedCommand
                                do {
                                    child = try await SpawnedCommand.spawn(command, environment: environment, signals: inherited)
                                } catch let error as SpawnedCommand.LaunchError {
                                    Terminal.error("locky: \(error.message)")
                                    return error.status
                                }
                                relay.attach(child)
                                let margin = ValidityWatchdog.margin(grace: grace, ttl: lease.ttl)
                                let (status, cutShort) = await withTaskGroup(of: (Int32, Bool)?.self) { group in
                                    group.addTask { (await child.waitForExit(terminatingOnCancelAfter: grace), false) }
                                    group.addTask {
                                        await ValidityWatchdog.watch(lease, child: child, margin: margin) ? (0, true) : nil
                                    }
                                    var cutShort = false
                                    var exitStatus: Int32?
                                    while let next = await group.next() {
                                        guard let (status, watchdog) = next else { continue }
                                        if watchdog {
                                            cutShort = true
                                        } else {
                                            // The watchdog is asked to stop, and still waited for: one
                                            // that already sent SIGTERM answers true, possibly only
                                            // after COMMAND's exit (which that SIGTERM caused) was taken.
                                            exitStatus = status
                                            group.cancelAll()
                                        }
                                    }
                                    return (exitStatus ?? ExitStatus.failure, cutShort)
                                }
                                // Terminated (lock lost or unrenewable): what COMMAND started gets its SIGKILL before locky exits.
                                await child.finishTermination()
                                if cutShort {
                                    throw CLIError(
                                        status: ExitStatus.lockLost,
                                        message: "the lock on \(resource) could not be renewed before its validity ran out; "
                                            + "COMMAND was terminated so that it ended in time")
                                }
                                if let signal = child.terminationSignal { _ = relay.endBy(signal) }
                                return status
                            }
                        } catch let error as LockError where error.code == .lockLost {
                            throw LockError(.lockLost, "\(error.message); COMMAND was terminated", resource: resource)
                        } catch let error as LockError where error.code == .timedOut || error.code == .busy {
                            // The library's message names the holder, or why there is none (earlier waiters).
                            throw CLIError(status: ExitStatus.busy, message: "\(resource) not acquired: \(error.message)")
                        } catch let error as LockError where error.code == .cancelled && relay.interruption != nil {
                            return nil
                        }
                    }
                    group.addTask {
                        // Before COMMAND runs, a signal stops the wait for the lock.
                        await relay.waitForInterruptionBeforeStart()
                        return nil
                    }
                    defer { group.cancelAll() }
                    while let result = try await group.next() {
                        return result
                    }
                    return nil
                }
                if let outcome { return outcome }
                let signal = relay.interruption ?? SIGINT
                Terminal.error("locky: interrupted while waiting for \(resource)")
                _ = relay.endBy(signal)
                return 128 + signal
            }
        } catch let exit as ExitCode {
            // The lock is given back and the client closed: end as the signal locky was sent would have ended it.
            if let signal = relay.ending, exit.rawValue == 128 + signal {
                watcher.cancel()
                SignalExit.end(by: signal)
            }
            throw exit
        }
    }

    /// Says on standard error that `lease`'s release failed (it is not released), so the lock
    /// may stay held until its TTL runs out; nothing when the lock was never taken or was released.
    private static func reportUnreleased(_ lease: Lease?, resource: String) {
        guard let lease, !lease.isReleased else { return }
        Terminal.error(
            "locky: the lock on \(TextField.escape(resource)) could not be released (Redis did not answer); "
                + "it may stay held until its TTL (\(formatDuration(lease.ttl))) runs out")
    }
}

/// Forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to COMMAND once it runs; before that, records the signal so the wait stops.
final class SignalRelay: Sendable {
    private struct State {
        var child: SpawnedCommand?
        var interruption: Int32?
        var received: Set<Int32> = []
        var ending: Int32?
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    /// The signal that arrived before COMMAND started, if any.
    var interruption: Int32? { state.withLock { $0.interruption } }

    /// The signal locky ends by (``SignalExit``) once the lock is given back, if one was decided on.
    var ending: Int32? { state.withLock { $0.ending } }

    /// locky ends by `signal` when its exit status is `128 + signal`, because it was sent
    /// `signal` itself: it was interrupted while waiting, or COMMAND died of the signal locky got.
    /// A COMMAND that died of a signal locky never got (it killed itself) only sets the status.
    func endBy(_ signal: Int32) -> Bool {
        // A Ctrl-C reaches locky and COMMAND at once, but COMMAND's death may be seen before the
        // signal pipe's reader has passed locky's copy on, or before another thread has even run
        // its handler (the kernel took it off the queue, the handler not yet called): a second look
        // a moment later, for a COMMAND killed by a signal locky forwards.
        var arrived = state.withLock { $0.received.contains(signal) } || SignalPipe.hasArrived(signal)
        if !arrived && [SIGINT, SIGTERM, SIGHUP, SIGQUIT].contains(signal) {
            usleep(20_000)
            arrived = state.withLock { $0.received.contains(signal) } || SignalPipe.hasArrived(signal)
        }
        guard arrived else { return false }
        state.withLock { $0.ending = signal }
        return true
    }

    /// Called by the signal watcher.
    func received(_ signal: ReceivedSignal) {
        let (child, waiter) = state.withLock { state -> (SpawnedCommand?, CheckedContinuation<Void, Never>?) in
            state.received.insert(signal.number)
            if let child = state.child { return (child, nil) }
            if state.interruption == nil { state.interruption = signal.number }
            defer { state.waiter = nil }
            return (nil, state.waiter)
        }
        // One the kernel sent to the whole process group (a Ctrl-C) reached COMMAND as well: a
        // second one would tell many tools to skip their graceful shutdown.
        if let child, !signal.reachedProcessGroup { child.send(signal.number) }
        waiter?.resume()
    }

    /// COMMAND runs: signals go to it from now on (one that arrived meanwhile is sent at once).
    func attach(_ child: SpawnedCommand) {
        let pending = state.withLock { state -> Int32? in
            state.child = child
            return state.interruption
        }
        if let pending { child.send(pending) }
    }

    /// Returns when a signal arrives before COMMAND started; never returns after it started (until cancelled).
    func waitForInterruptionBeforeStart() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.interruption != nil && state.child == nil { return true }
                    if Task.isCancelled { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}
