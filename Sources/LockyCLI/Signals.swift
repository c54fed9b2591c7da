import Foundation
import Synchronization

/// Delivers signals to a handler, with where each came from (``ReceivedSignal``), instead of
/// their default action. A SA_SIGINFO handler writes each one's number, `si_code` and `si_pid`
/// to a pipe (about all a signal handler may do); a thread reads the pipe and calls the
/// handler registered for that signal.
final class SignalWatcher: Sendable {
    private let signals: [Int32]
    private let cancelled = Atomic<Bool>(false)

    /// Calls `handler` for each of `signals` that arrives, in place of its default action.
    init(signals: [Int32], handler: @escaping @Sendable (ReceivedSignal) -> Void) {
        self.signals = signals
        SignalPipe.shared.register(signals, handler)
        for number in signals {
            var action = sigaction()
            #if os(Linux)
                action.__sigaction_handler.sa_sigaction = signalPipeHandler
            #else
                action.__sigaction_u.__sa_sigaction = signalPipeHandler
            #endif
            action.sa_flags = SA_SIGINFO | SA_RESTART
            sigfillset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }

    /// Stops watching and restores the default actions.
    func cancel() {
        guard !cancelled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for number in signals { signal(number, SIG_DFL) }
        SignalPipe.shared.unregister(signals)
    }
}

/// Runs `body` until it returns or SIGINT/SIGTERM arrives (then `body` is cancelled and this returns normally).
/// One of them that locky was started ignoring stays ignored: a shell's background job
/// (`locky watch &`) gets SIGINT ignored so that a Ctrl-C meant for the shell leaves it running.
func untilInterrupted(_ body: @escaping @Sendable () async throws -> Void) async throws {
    let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
    let ignored = SpawnedCommand.InheritedSignals.capture().ignored
    let watcher = SignalWatcher(signals: [SIGINT, SIGTERM].filter { !ignored.contains($0) }) { continuation.yield($0.number) }
    defer { watcher.cancel() }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await body() }
        group.addTask {
            for await _ in stream { return }
        }
        defer { group.cancelAll() }
        do {
            try await group.next()
        } catch is CancellationError {
            return
        }
    }
}
