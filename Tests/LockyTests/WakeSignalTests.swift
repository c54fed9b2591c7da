import Testing

@testable import Locky

/// The one-waiter wake-up under every waiting path: a timer on the real clock (NIO), on the
/// manual clock, and a sleeping child task on a clock that cannot arm timers.
@Suite("WakeSignal")
struct WakeSignalTests {
    /// A clock that only sleeps: waits on it take the task-group path.
    struct SleepingClock: LockClock {
        var now: ContinuousClock.Instant { ContinuousClock.now }
        func sleep(until deadline: ContinuousClock.Instant) async throws {
            try await ContinuousClock().sleep(until: deadline, tolerance: nil)
        }
    }

    static let clocks: [any LockClock] = [SystemLockClock(), SleepingClock()]

    @Test(arguments: [0, 1])
    func aWakeUpBeforeTheWaitIsRemembered(clockIndex: Int) async {
        let clock = Self.clocks[clockIndex]
        let signal = WakeSignal()
        signal.fire()
        let started = ContinuousClock.now
        #expect(await signal.wait(until: clock.now + .seconds(10), clock: clock) == .signalled)
        #expect(ContinuousClock.now - started < .seconds(2))
        // Consumed: the next wait times out.
        #expect(await signal.wait(until: clock.now + .milliseconds(30), clock: clock) == .timedOut)
    }

    @Test(arguments: [0, 1])
    func timesOutAtTheInstantAndNotBefore(clockIndex: Int) async {
        let clock = Self.clocks[clockIndex]
        let signal = WakeSignal()
        let started = ContinuousClock.now
        #expect(await signal.wait(until: clock.now + .milliseconds(80), clock: clock) == .timedOut)
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(80))
        #expect(elapsed < .seconds(2))
        // A deadline already passed times out at once.
        #expect(await signal.wait(until: clock.now - .seconds(1), clock: clock) == .timedOut)
    }

    @Test(arguments: [0, 1])
    func aWakeUpEndsALongWaitAndItsTimerNeverEndsTheNext(clockIndex: Int) async throws {
        let clock = Self.clocks[clockIndex]
        let signal = WakeSignal()
        async let outcome = signal.wait(until: clock.now + .milliseconds(150), clock: clock)
        try await Task.sleep(for: .milliseconds(20))
        signal.fire()
        #expect(await outcome == .signalled)
        // The first wait's deadline passes during the second, which has none: only a wake-up ends it.
        async let second = signal.wait(until: nil, clock: clock)
        try await Task.sleep(for: .milliseconds(400))
        signal.fire()
        #expect(await second == .signalled)
    }

    @Test(arguments: [0, 1])
    func cancellationEndsTheWaitAsCancelled(clockIndex: Int) async throws {
        let clock = Self.clocks[clockIndex]
        let signal = WakeSignal()
        let waiter = Task { await signal.wait(until: clock.now + .seconds(30), clock: clock) }
        try await Task.sleep(for: .milliseconds(30))
        waiter.cancel()
        #expect(await waiter.value == .cancelled)
        // Cancelled before waiting: at once, even with a wake-up pending.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            signal.fire()
            return await signal.wait(until: nil, clock: clock)
        }
        #expect(await early.value == .cancelled)
    }

    @Test func theManualClockTimesOutOnlyWhenAdvancedPastTheInstant() async throws {
        let clock = ManualLockClock()
        let signal = WakeSignal()
        let outcome = Shared<WakeOutcome?>(nil)
        // Before the child starts: however late it runs, the deadline is 1 s after this instant.
        let deadline = clock.now + .seconds(1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let result = await signal.wait(until: deadline, clock: clock)
                outcome.update { $0 = result }
            }
            try await Task.sleep(for: .milliseconds(50))
            clock.advance(by: .milliseconds(500))
            try await Task.sleep(for: .milliseconds(50))
            #expect(outcome.value == nil)
            clock.advance(by: .milliseconds(600))
            try await group.waitForAll()
        }
        #expect(outcome.value == .timedOut)
    }
}
