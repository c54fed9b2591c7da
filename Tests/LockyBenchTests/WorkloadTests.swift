import Testing

@testable import LockyBench

/// The concurrent rate is all cycles over the group's time, not a sum of each task's own rate.
@Suite("Workload rates")
struct WorkloadTests {
    @Test func theAggregateRateIsAllOperationsOverTheGroupsTime() {
        let start = ContinuousClock.now
        // 50 operations of 10 ms end at 0.5 s, 50 of 20 ms at 1 s: 100 operations in 1 s. The sum
        // of the tasks' rates would say 100 + 50 = 150 per second.
        let rate = Workload.aggregateRate(
            operations: 100, start: start, ends: [start + .milliseconds(500), start + .seconds(1)])
        #expect(abs(rate - 100) < 1e-9)
        #expect(Workload.aggregateRate(operations: 5, start: start, ends: []) == 0)
    }

    @Test func twoTasksOfDifferentSpeedsGiveTheGroupsRate() async throws {
        // Task 0's operations take 10 ms, task 1's 20 ms; 10 each: the group takes at least 200 ms
        // for 20 operations, so at most 100 per second (a sum of task rates gives about 150).
        let (latencies, rate) = try await Workload.concurrent(tasks: 2, operationsPerTask: 10) { index in
            try await Task.sleep(for: .milliseconds(index == 0 ? 10 : 20))
        }
        #expect(latencies.count == 20)
        #expect(rate <= 101, "\(rate)")
        #expect(rate > 40, "\(rate)")
    }
}
