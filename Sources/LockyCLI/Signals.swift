import Dispatch
import Foundation
import Synchronization

/// Delivers signals to a handler through DispatchSource instead of their default action.
final class SignalWatcher: Sendable {
    private let sources: Mutex<[any DispatchSourceSignal]>
    private let signals: [Int32]

    /// Ignores `signals`' default action and calls `handler` for each one that arrives.
    init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        self.signals = signals
        var sources: [any DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(number) }
            source.resume()
            sources.append(source)
        }
        self.sources = Mutex(sources)
    }

    /// Stops watching and restores the default actions.
    func cancel() {
        let sources = self.sources.withLock { sources in
            defer { sources.removeAll() }
            return sources
        }
        for source in sources { source.cancel() }
        if !sources.isEmpty { for number in signals { signal(number, SIG_DFL) } }
    }
}

/// Runs `body` until it returns or SIGINT/SIGTERM arrives (then `body` is cancelled and this returns normally).
func untilInterrupted(_ body: @escaping @Sendable () async throws -> Void) async throws {
    let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
    let watcher = SignalWatcher(signals: [SIGINT, SIGTERM]) { continuation.yield($0) }
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
