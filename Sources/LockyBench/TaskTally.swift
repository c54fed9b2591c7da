import Synchronization

/// Counts the tasks a scenario starts and how many of them are still running. Swift has no
/// process-wide count of live tasks, so the soak counts its own: every task it creates (workers,
/// `async let` waiters, state observers) enters on start and leaves on exit.
final class TaskTally: Sendable {
    private let live = Atomic<Int>(0)
    private let started = Atomic<Int>(0)
    private let events = Atomic<Int>(0)

    /// Runs `body` as one counted task.
    func counting<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async rethrows -> T {
        started.add(1, ordering: .relaxed)
        live.add(1, ordering: .relaxed)
        defer { live.subtract(1, ordering: .relaxed) }
        return try await body()
    }

    /// Tasks started so far.
    var startedCount: Int { started.load(ordering: .relaxed) }
    /// Tasks running now.
    var liveCount: Int { live.load(ordering: .relaxed) }

    /// Counts one event (a renewal seen by an observer); returns the new total.
    @discardableResult
    func countEvent() -> Int { events.add(1, ordering: .relaxed).newValue }
    /// Events counted so far.
    var eventCount: Int { events.load(ordering: .relaxed) }
    /// Starts counting events from zero.
    func resetEvents() { events.store(0, ordering: .relaxed) }
}
