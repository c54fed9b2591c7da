/// Runs an operation a fixed number of times and measures rate and latencies.
enum Workload {
    /// `operations` calls, one after another, in the current task.
    static func sequential(operations: Int, _ operation: () async throws -> Void) async throws -> (LatencyRecorder, Double) {
        let clock = ContinuousClock()
        var recorder = LatencyRecorder(capacity: operations)
        let start = clock.now
        for _ in 0..<operations {
            let before = clock.now
            try await operation()
            recorder.record(clock.now - before)
        }
        return (recorder, Double(operations) / (clock.now - start).seconds)
    }

    /// Several workloads measured side by side: `operations` calls of each, in chunks of `chunk`
    /// taking turns (A, B, C, A, B, C, …), so the machine's speed, which drifts within seconds on
    /// this VM, is the same for each. One result per workload, in order; rates count the
    /// workload's own time only.
    static func interleaved(
        operations: Int,
        chunk: Int,
        _ workloads: [() async throws -> Void]
    ) async throws -> [(LatencyRecorder, Double)] {
        var recorders = workloads.map { _ in LatencyRecorder(capacity: operations) }
        var busy = [Duration](repeating: .zero, count: workloads.count)
        var done = 0
        while done < operations {
            let count = min(chunk, operations - done)
            for (index, workload) in workloads.enumerated() {
                let (recorder, rate) = try await sequential(operations: count, workload)
                recorders[index].merge(recorder)
                busy[index] += .seconds(Double(count) / rate)
            }
            done += count
        }
        return zip(recorders, busy).map { ($0, Double(operations) / $1.seconds) }
    }

    /// `operations` calls spread over `tasks` concurrent tasks.
    static func concurrent(
        tasks: Int,
        operations: Int,
        _ operation: @escaping @Sendable () async throws -> Void
    ) async throws -> (LatencyRecorder, Double) {
        try await concurrent(tasks: tasks, operationsPerTask: max(1, operations / tasks)) { _ in try await operation() }
    }

    /// `tasks` concurrent tasks, each calling `operation` with its index `operationsPerTask` times.
    /// The rate is every call of every task over the group's time (see ``aggregateRate(operations:start:ends:)``).
    /// With `executor`, the tasks prefer it (for a client's event loop: no thread hop per call).
    static func concurrent(
        tasks: Int,
        operationsPerTask: Int,
        executor: (any TaskExecutor)? = nil,
        _ operation: @escaping @Sendable (Int) async throws -> Void
    ) async throws -> (LatencyRecorder, Double) {
        let clock = ContinuousClock()
        let start = clock.now
        return try await withThrowingTaskGroup(of: (LatencyRecorder, ContinuousClock.Instant).self) { group in
            for index in 0..<tasks {
                group.addTask(executorPreference: executor) {
                    var recorder = LatencyRecorder(capacity: operationsPerTask)
                    for _ in 0..<operationsPerTask {
                        let before = clock.now
                        try await operation(index)
                        recorder.record(clock.now - before)
                    }
                    return (recorder, clock.now)
                }
            }
            var all = LatencyRecorder()
            var ends: [ContinuousClock.Instant] = []
            for try await (recorder, end) in group {
                all.merge(recorder)
                ends.append(end)
            }
            return (all, aggregateRate(operations: all.count, start: start, ends: ends))
        }
    }

    /// Operations per second of tasks run together: all their operations over the time from the
    /// group's start to the last task's end. (Summing each task's own rate overstates it: a task
    /// that finishes early adds its rate as if it had gone on for the whole time.)
    static func aggregateRate(
        operations: Int,
        start: ContinuousClock.Instant,
        ends: [ContinuousClock.Instant]
    ) -> Double {
        guard let last = ends.max(), last > start else { return 0 }
        return Double(operations) / (last - start).seconds
    }
}

/// Rates of several rounds and all their latencies.
struct RoundResults {
    private(set) var rates: [Double] = []
    private(set) var latencies = LatencyRecorder()

    mutating func add(_ result: (LatencyRecorder, Double)) {
        rates.append(result.1)
        latencies.merge(result.0)
    }

    var medianRate: Double { median(rates) }

    /// The median over rounds of this round's rate divided by the floor measured in the same
    /// round: robust when the machine's speed drifts between rounds.
    func medianRatio(to floors: [Double]) -> Double {
        median(zip(rates, floors).map { $0 / $1 })
    }
}

/// The median of `values` (0 when empty).
func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
