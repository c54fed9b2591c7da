import ArgumentParser
import Locky
import Synchronization

/// `expiry`: how late `expired` events arrive after the deadline.
struct ExpiryScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expiry",
        abstract: "1,000 locks with TTLs spread over 100–1,100 ms, watched through the events API: expiry event lag."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Locks.")
    var locks = 1000

    func validate() throws {
        try BenchValidation.positive(locks, "--locks")
    }

    func run() async throws {
        try await LockBench.withBench(options) { bench in
            let count = locks
            let deadlines = DeadlineBook()
            let lags = try await bench.locks.events(matching: "expiry-*") { events in
                try await withThrowingTaskGroup(of: [Double].self) { group in
                    group.addTask {
                        var lags: [Double] = []
                        for await event in events {
                            guard case .expired(let resource) = event else { continue }
                            let now = Monotonic.nanoseconds()
                            if let deadline = deadlines.map.withLock({ $0.removeValue(forKey: resource) }) {
                                lags.append(Double(now - deadline) / 1e6)
                            }
                            if lags.count == count { break }
                        }
                        return lags
                    }
                    for index in 0..<count {
                        let ttl = 100 + (index * 1000) / max(1, count - 1)
                        let resource = "expiry-\(index)"
                        let start = Monotonic.nanoseconds()
                        deadlines.map.withLock { $0[resource] = start + Int64(ttl) * 1_000_000 }
                        _ = try await bench.locks.tryAcquire(resource, ttl: .milliseconds(Int64(ttl)))
                    }
                    let lags = try await group.next() ?? []
                    group.cancelAll()
                    return lags
                }
            }
            let sorted = lags.sorted()
            func percentile(_ p: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                return sorted[min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))]
            }
            var report = BenchReport(scenario: "expiry")
            report.add("locks", Double(count))
            report.add("events", Double(lags.count))
            report.add("lag_p50_ms", percentile(50))
            report.add("lag_p99_ms", percentile(99))
            report.add("lag_max_ms", sorted.last ?? 0)
            try report.print(json: options.json)
        }
    }
}

/// Deadlines by resource, shared between the task that sets locks and the one that watches.
final class DeadlineBook: Sendable {
    let map = Mutex<[String: Int64]>([:])
}
