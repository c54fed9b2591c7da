import ArgumentParser
import Foundation
import Locky
import LockyRESP
import LockyRedis

/// `soak`: a million acquire/release cycles, 100,000 waiting acquires woken by releases and
/// 100,000 renewals by the client's renewal loop, after a warm-up of a quarter of each (long
/// enough for the wait phase to reach its steady state: every waiter woken early leaves a
/// cancelled sleep whose timer, and memory, lives until its 10 s deadline).
/// Open file descriptors, threads, the scenario's own live tasks and RSS are sampled at the
/// baseline, after the warm-up and at the end; they must come back (RSS: grow < 10 %).
struct SoakScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "1M acquire/release cycles, 100k waits, 100k renewals: file descriptors, tasks and RSS must come back."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Acquire/release cycles (lease API, several resources, and locker API).")
    var cycles = 1_000_000

    @Option(help: "Waiting acquires, each woken by the holder's release.")
    var waits = 100_000

    @Option(help: "Lease renewals done by the client's renewal loop.")
    var renewals = 100_000

    @Option(help: "Concurrent tasks in the cycle phase.")
    var tasks = 64

    @Option(help: "Resources per task in the cycle phase.")
    var resources = 4

    @Option(help: "Resources handed back and forth in the wait phase, each by a holder and a waiter.")
    var pairs = 16

    @Option(help: "Leases kept alive in the renewal phase (TTL 300 ms, so renewed about every 100 ms).")
    var leases = 1_000

    /// What one round of the three phases did.
    private struct Counts {
        var cycles = 0
        var waits = 0
        var busyAttempts = 0
        var renewals = 0
        var losses = 0
    }

    func run() async throws {
        try await BenchServer.with(options) { server in
            let fdBaseline = ProcessGauges.openFileDescriptors()
            let threadsBaseline = ProcessGauges.threads()
            let rssBaseline = ResidentMemory.megabytes()
            let redis = try RedisClient(url: server.url)
            let locks = try LockClient(
                backend: RedisLockBackend(client: redis, keyspace: LockKeyspace(prefix: "locky:soak:")),
                configuration: LockyConfiguration(retry: .never),
                tracer: nil
            )
            let tally = TaskTally()
            var report = BenchReport(scenario: "soak")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await locks.run() }
                defer { group.cancelAll() }

                _ = try await round(locks, redis, tally, scale: 4)
                let fdWarm = ProcessGauges.openFileDescriptors()
                let threadsWarm = ProcessGauges.threads()
                let rssWarm = ResidentMemory.megabytes()

                let started = ContinuousClock.now
                let counts = try await round(locks, redis, tally, scale: 1)
                let seconds = (ContinuousClock.now - started).seconds
                let fdEnd = ProcessGauges.openFileDescriptors()
                let rssEnd = ResidentMemory.megabytes()
                let growth = (rssEnd - rssWarm) / rssWarm * 100

                report.add("cycles", Double(counts.cycles))
                report.add("waits", Double(counts.waits))
                report.add("wait_busy_attempts", Double(counts.busyAttempts))
                report.add("renewals", Double(counts.renewals))
                report.add("renewal_losses", Double(counts.losses))
                report.add("seconds", seconds)
                report.add("fd_baseline", Double(fdBaseline))
                report.add("fd_warm", Double(fdWarm))
                report.add("fd_end", Double(fdEnd))
                report.add("threads_baseline", Double(threadsBaseline))
                report.add("threads_warm", Double(threadsWarm))
                report.add("threads_end", Double(ProcessGauges.threads()))
                report.add("tasks_started", Double(tally.startedCount))
                report.add("tasks_live_end", Double(tally.liveCount))
                report.add("renewing_end", Double(locks.renewingCount))
                report.add("rss_baseline_mb", rssBaseline)
                report.add("rss_warm_mb", rssWarm)
                report.add("rss_end_mb", rssEnd)
                report.add("rss_growth_pct", growth)
                report.add("fd_ok", fdEnd == fdWarm ? 1 : 0)
                report.add("rss_ok", growth < 10 ? 1 : 0)
            }
            await redis.close()
            // Closed, the client holds no descriptor: back to before it existed.
            report.add("fd_closed", Double(ProcessGauges.openFileDescriptors()))
            report.note(
                "tasks",
                "counts the scenario's own tasks (workers, async-let waiters, observers); Swift has no global task count"
            )
            try report.print(json: options.json)
        }
    }

    /// The three phases, at 1/`scale` of their size.
    private func round(_ locks: LockClient, _ redis: RedisClient, _ tally: TaskTally, scale: Int) async throws -> Counts {
        var counts = Counts()
        counts.cycles = try await cyclePhase(locks, tally, count: max(tasks, cycles / scale))
        let evalBefore = try await evalshaCalls(redis)
        counts.waits = try await waitPhase(locks, tally, count: max(pairs, waits / scale))
        // Each hand-off is one successful acquire and one release; every other call was a busy try.
        counts.busyAttempts = try await evalshaCalls(redis) - evalBefore - 2 * counts.waits
        (counts.renewals, counts.losses) = try await renewalPhase(locks, tally, count: max(1, renewals / scale))
        return counts
    }

    /// `count` cycles over `tasks` tasks with `resources` resources each: single-resource leases,
    /// two-resource leases (every 10th) and locker-API lock/unlock (every 10th).
    private func cyclePhase(_ locks: LockClient, _ tally: TaskTally, count: Int) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<tasks {
                let quota = count / tasks + (task < count % tasks ? 1 : 0)
                let resources = self.resources
                group.addTask {
                    try await tally.counting {
                        for index in 0..<quota {
                            let resource = "cycle-\(task)-\(index % resources)"
                            switch index % 10 {
                            case 0:
                                _ = try await locks.lock(resource, locker: "soak-\(task)")
                                _ = try await locks.unlock(resource, locker: "soak-\(task)")
                            case 5:
                                let lease = try await locks.tryAcquire([resource, "cycle-\(task)-pair"], ttl: .seconds(10))
                                _ = try await locks.release(lease)
                            default:
                                let lease = try await locks.tryAcquire(resource, ttl: .seconds(10))
                                _ = try await locks.release(lease)
                            }
                        }
                        return quota
                    }
                }
            }
            return try await group.reduce(0, +)
        }
    }

    /// `count` hand-offs over `pairs` resources: the holder starts a waiting acquire (an
    /// `async let` child), gives it 2 ms to find the lock busy, releases, and the waiter,
    /// woken by the release, becomes the next holder.
    private func waitPhase(_ locks: LockClient, _ tally: TaskTally, count: Int) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for pair in 0..<pairs {
                let quota = count / pairs + (pair < count % pairs ? 1 : 0)
                group.addTask {
                    try await tally.counting {
                        let resource = "wait-\(pair)"
                        var holder = try await locks.tryAcquire(resource, ttl: .seconds(10))
                        for _ in 0..<quota {
                            async let next = tally.counting {
                                try await locks.acquire(resource, ttl: .seconds(10), timeout: .seconds(10))
                            }
                            try await Task.sleep(for: .milliseconds(2))
                            _ = try await locks.release(holder)
                            holder = try await next
                        }
                        _ = try await locks.release(holder)
                        return quota
                    }
                }
            }
            return try await group.reduce(0, +)
        }
    }

    /// `leases` leases with a 300 ms TTL in the client's renewal loop until `count` renewals
    /// were seen (each lease's `states()`, one observer task per lease); then all are released.
    private func renewalPhase(_ locks: LockClient, _ tally: TaskTally, count: Int) async throws -> (Int, Int) {
        var held: [Lease] = []
        for index in 0..<leases {
            let lease = try await locks.tryAcquire("renew-\(index)", ttl: .milliseconds(300))
            try locks.startRenewing(lease)
            held.append(lease)
        }
        tally.resetEvents()
        let losses = try await withThrowingTaskGroup(of: Int.self) { group in
            for lease in held {
                group.addTask {
                    await tally.counting {
                        for await state in lease.states() {
                            switch state {
                            case .renewed: tally.countEvent()
                            case .renewalFailed: continue
                            case .lost: return 1
                            }
                        }
                        return 0
                    }
                }
            }
            // A lost lease is counted, not waited for: give up when the renewals stop coming.
            let deadline = ContinuousClock.now + .seconds(30) + .milliseconds(Int64(count / max(1, leases)) * 300)
            while tally.eventCount < count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            group.cancelAll()
            return try await group.reduce(0, +)
        }
        let renewed = tally.eventCount
        for lease in held {
            locks.stopRenewing(lease)
            _ = try await locks.release(lease)
        }
        return (renewed, losses)
    }

    private func evalshaCalls(_ redis: RedisClient) async throws -> Int {
        let info = try await redis.execute(RESPCommand("INFO", "commandstats"))
        let text = (try? info.decode(as: String.self)) ?? ""
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_evalsha:") {
            for field in line.dropFirst("cmdstat_evalsha:".count).split(separator: ",") where field.hasPrefix("calls=") {
                return Int(field.dropFirst("calls=".count)) ?? 0
            }
        }
        return 0
    }
}
