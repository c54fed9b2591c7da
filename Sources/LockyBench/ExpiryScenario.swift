import ArgumentParser
import Locky
import LockyRESP
import LockyRedis
import Synchronization

/// `expiry`: how late `expired` events arrive after the deadline.
///
/// The run ends when every lock's event has come, or a few seconds after the last deadline:
/// a missing event is counted, not waited for. Missing and duplicate events, gaps and errors
/// fail the run (non-zero exit), with the report printed all the same.
struct ExpiryScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expiry",
        abstract: "1,000 locks with TTLs spread over 100–1,100 ms, watched through the events API: expiry event lag."
    )

    /// How long after the last deadline a missing event is given up on.
    static let grace = Duration.seconds(3)

    @OptionGroup var options: BenchOptions

    @Option(help: "Locks.")
    var locks = 1000

    func validate() throws {
        try BenchValidation.positive(locks, "--locks")
    }

    func run() async throws {
        try await LockBench.withBench(options) { bench in
            let count = locks
            let watch = ExpiryWatch()
            try await bench.locks.events(matching: "expiry-*") { events in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await event in events {
                            if watch.record(event, at: Monotonic.nanoseconds(), expecting: count) { return }
                        }
                    }
                    var lastDeadline: Int64 = 0
                    for index in 0..<count {
                        let ttl = 100 + (index * 1000) / max(1, count - 1)
                        let resource = "expiry-\(index)"
                        let deadline = Monotonic.nanoseconds() + Int64(ttl) * 1_000_000
                        lastDeadline = max(lastDeadline, deadline)
                        watch.expect(resource, deadline: deadline)
                        _ = try await bench.locks.tryAcquire(resource, ttl: .milliseconds(Int64(ttl)))
                    }
                    // The time limit: without it one lost event (a key deleted, notifications
                    // off) kept the run waiting forever.
                    let limit = lastDeadline + Int64(Self.grace.seconds * 1e9)
                    group.addTask {
                        let wait = limit - Monotonic.nanoseconds()
                        if wait > 0 { try await Task.sleep(for: .nanoseconds(wait)) }
                    }
                    _ = try await group.next()
                    group.cancelAll()
                }
            }
            let tally = watch.tally
            // The locks expired on their own; their fence counters would stay (1,000 keys a run on a --url server).
            let keyspace = try LockKeyspace(prefix: "locky:bench:")
            for start in stride(from: 0, to: count, by: 1000) {
                var command = RESPCommand("DEL")
                command.append(contentsOf: (start..<min(start + 1000, count)).map { keyspace.fenceKey("expiry-\($0)") })
                _ = try await bench.redis.execute(command)
            }
            let sorted = tally.lags.sorted()
            func percentile(_ p: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                return sorted[min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))]
            }
            var report = BenchReport(scenario: "expiry")
            report.add("locks", Double(count))
            report.add("events", Double(tally.lags.count))
            report.add("missing", Double(tally.missing))
            report.add("duplicates", Double(tally.duplicates))
            report.add("gaps", Double(tally.gaps))
            report.add("errors", Double(tally.errors.count))
            report.add("unexpected", Double(tally.unexpected))
            report.add("lag_p50_ms", percentile(50))
            report.add("lag_p99_ms", percentile(99))
            report.add("lag_max_ms", sorted.last ?? 0)
            if let first = tally.errors.first { report.note("first_error", first) }
            report.require(tally.missing == 0, "\(tally.missing) expired events missing")
            report.require(tally.duplicates == 0, "\(tally.duplicates) duplicate expired events")
            report.require(tally.gaps == 0, "\(tally.gaps) gaps (events may have been lost)")
            report.require(tally.errors.isEmpty, "\(tally.errors.count) errors from the event stream")
            try report.print(json: options.json)
        }
    }
}

/// What the watcher of `expiry` saw: lags of first events, and everything that went wrong.
struct ExpiryTally: Sendable {
    /// Deadlines (monotonic ns) of the locks whose event has not come yet.
    private(set) var pending: [String: Int64] = [:]
    /// Locks whose event came.
    private(set) var seen: Set<String> = []
    /// Event arrival − deadline, in ms, one per lock seen.
    private(set) var lags: [Double] = []
    /// A second event for a lock already seen.
    private(set) var duplicates = 0
    /// An event for a resource this run never locked (another run on the same server).
    private(set) var unexpected = 0
    private(set) var gaps = 0
    private(set) var errors: [String] = []

    /// Locks set and not seen expire.
    var missing: Int { pending.count }

    mutating func expect(_ resource: String, deadline: Int64) {
        pending[resource] = deadline
    }

    mutating func record(_ event: LockEvent, at now: Int64) {
        switch event {
        case .expired(let resource):
            if let deadline = pending.removeValue(forKey: resource) {
                seen.insert(resource)
                lags.append(Double(now - deadline) / 1e6)
            } else if seen.contains(resource) {
                duplicates += 1
            } else {
                unexpected += 1
            }
        case .gap:
            gaps += 1
        case .error(let error):
            errors.append(error.description)
        case .locked, .unlocked:
            break
        }
    }
}

/// The tally, shared between the task that sets locks and the one that watches.
final class ExpiryWatch: Sendable {
    private let state = Mutex(ExpiryTally())

    func expect(_ resource: String, deadline: Int64) {
        state.withLock { $0.expect(resource, deadline: deadline) }
    }

    /// Records `event`; true once `expecting` locks have all been seen.
    func record(_ event: LockEvent, at now: Int64, expecting: Int) -> Bool {
        state.withLock { tally in
            tally.record(event, at: now)
            return tally.seen.count == expecting
        }
    }

    var tally: ExpiryTally { state.withLock { $0 } }
}
