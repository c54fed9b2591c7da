import Locky
import Testing

@Suite("ManualLockClock")
struct ManualLockClockTests {
    @Test func standsStillUntilAdvanced() async throws {
        let clock = ManualLockClock()
        let start = clock.now
        try await Task.sleep(for: .milliseconds(20))
        #expect(clock.now == start)
        clock.advance(by: .seconds(3))
        #expect(clock.now == start + .seconds(3))
        clock.advance(by: .milliseconds(1))
        #expect(clock.now - start == .milliseconds(3001))
    }

    @Test func sleepWithAPastDeadlineReturnsAtOnce() async throws {
        let clock = ManualLockClock()
        try await clock.sleep(until: clock.now)
        try await clock.sleep(until: clock.now - .seconds(1))
    }

    @Test func sleepersWakeOnlyWhenTheirDeadlinePasses() async throws {
        let clock = ManualLockClock()
        let start = clock.now
        let woken = Shared<[Int]>([])
        let started = Shared(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, delay) in [100, 200, 300].enumerated() {
                group.addTask {
                    started.update { $0 += 1 }
                    try await clock.sleep(until: start + .milliseconds(delay))
                    woken.update { $0.append(index) }
                }
            }
            while started.value < 3 { await Task.yield() }
            // Give the sleepers time to register.
            try await Task.sleep(for: .milliseconds(50))
            #expect(woken.value.isEmpty)
            clock.advance(by: .milliseconds(150))
            try await waitUntil { woken.value == [0] }
            try await Task.sleep(for: .milliseconds(30))
            #expect(woken.value == [0])
            clock.advance(by: .milliseconds(200))
            try await waitUntil { woken.value.count == 3 }
            try await group.waitForAll()
        }
        #expect(Set(woken.value) == [0, 1, 2])
    }

    @Test func cancelledBeforeSleepingThrows() async {
        let clock = ManualLockClock()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(until: clock.now + .seconds(1))
        }
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    /// `LockClock.sleep` promises to throw when the task is cancelled; a sleeper on a manual
    /// clock that nobody advances must not hang forever.
    @Test func cancellationWakesASleeper() async throws {
        let clock = ManualLockClock()
        let finished = Shared(false)
        let task = Task {
            defer { finished.update { $0 = true } }
            try await clock.sleep(until: clock.now + .seconds(3600))
        }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        let deadline = ContinuousClock.now + .seconds(2)
        while !finished.value, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        let woke = finished.value
        #expect(woke, "a cancelled sleeper stayed asleep")
        if !woke { clock.advance(by: .seconds(7200)) }
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test func drivesLeaseValidityAndBackendExpiry() async throws {
        let clock = ManualLockClock()
        let client = try LockClient(backend: InMemoryLockBackend(clock: clock), clock: clock)
        let lease = try await client.acquire("r", ttl: .seconds(10))
        // Validity is ttl − drift (1 % + 2 ms), measured on the manual clock.
        #expect(lease.remaining == .seconds(10) - .milliseconds(102))
        #expect(lease.validUntil == clock.now + .seconds(10) - .milliseconds(102))
        clock.advance(by: .seconds(9))
        #expect(lease.remaining == .seconds(1) - .milliseconds(102))
        #expect(lease.isValid)
        #expect(try await client.holder(of: "r")?.remaining == .seconds(1))
        clock.advance(by: .seconds(1))
        #expect(!lease.isValid)
        // At its deadline the lock is still there with nothing left, as Redis keeps a key with
        // PTTL 0; it goes once time passes the deadline.
        #expect(try await client.holder(of: "r")?.remaining == .zero)
        clock.advance(by: .milliseconds(1))
        #expect(try await client.holder(of: "r") == nil)
    }
}

/// Polls `condition` until it holds, failing after `timeout`.
func waitUntil(
    timeout: Duration = .seconds(5),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(timeout)", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(2))
    }
}
