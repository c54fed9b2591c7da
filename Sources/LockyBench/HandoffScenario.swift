import ArgumentParser
import Foundation
import Locky
import LockyRESP
import LockyRedis
import NIOCore

/// `handoff`: 8 OS processes contend for one resource; each holds it ~1 ms doing a
/// read-modify-write of a counter (GET, sleep 1 ms, SET value+1), then works 5 ms outside it.
struct HandoffScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handoff",
        abstract: "8 processes contend for one lock: hand-off gap, wait, fairness and a mutual-exclusion check."
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Worker processes.")
    var workers = 8

    @Flag(help: "Fair mode: waiters acquire in arrival order across processes.")
    var fair = false

    @Flag(help: "Run each worker's loop on its connection's event loop (no thread hop per call).")
    var onLoop = false

    @Option(help: "Lock TTL in milliseconds (below --hold-milliseconds only to see the harness catch expired leases).")
    var ttlMilliseconds = 5000

    @Option(help: "Sleep between GET and SET of the counter, in milliseconds, while holding the lock.")
    var holdMilliseconds = 1

    /// Run length: 10 s unless --seconds says otherwise.
    var seconds: Double { options.measuredSeconds(default: 10) }

    func validate() throws {
        try BenchValidation.positive(workers, "--workers")
        try BenchValidation.positive(ttlMilliseconds, "--ttl-milliseconds")
        try BenchValidation.positive(holdMilliseconds, "--hold-milliseconds")
    }

    func run() async throws {
        try await BenchServer.with(options) { try await measure($0) }
    }

    /// The shared counter the workers increment under the lock.
    static let counterKey = "locky:bench:handoff:counter"

    private func measure(_ server: BenchServer) async throws {
        // From zero: with --url, a previous run's count would otherwise never match this run's acquisitions.
        let client = try RedisClient(url: server.url)
        do {
            _ = try await client.execute(RESPCommand("DEL", Self.counterKey))
        } catch {
            await client.close()
            throw error
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var processes: [(Process, Pipe)] = []
        for index in 0..<workers {
            let process = Process()
            process.executableURL = executable
            var arguments = [
                "handoff-worker", "--url", server.url, "--seconds", String(seconds), "--worker", String(index),
                "--ttl-milliseconds", String(ttlMilliseconds), "--hold-milliseconds", String(holdMilliseconds),
            ]
            if fair { arguments.append("--fair") }
            if onLoop { arguments.append("--on-loop") }
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            processes.append((process, pipe))
        }
        var records: [HandoffRecord] = []
        var perWorker: [Int] = []
        var failures: [String] = []
        var failedAcquires = 0
        var notReleased = 0
        for (index, (process, pipe)) in processes.enumerated() {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let output = HandoffWorkerOutput.parse(
                String(decoding: data, as: UTF8.self), exitedNormally: process.terminationReason == .exit,
                status: process.terminationStatus)
            records += output.records
            perWorker.append(output.records.count)
            notReleased += output.notReleased
            if let failure = output.failure {
                // Its records are kept, but the run fails: the counter can no longer match them.
                failures.append("worker \(index): \(failure)")
                if output.failedPhase == "acquire" { failedAcquires += 1 }
            }
        }
        let (gaps, overlaps) = HandoffAnalysis.gapsAndOverlaps(records)
        let counterValue: Int
        do {
            let counter = try await client.execute(RESPCommand("GET", Self.counterKey))
            counterValue = (try? counter.decode(as: Int.self)) ?? -1
            // Nothing left behind for the next run on the same server: counter, lock, fence, fair queue, waiters.
            let keyspace = try LockKeyspace(prefix: "locky:bench:")
            _ = try await client.execute(
                RESPCommand(
                    "DEL", Self.counterKey, keyspace.lockKey("handoff"), keyspace.fenceKey("handoff"),
                    keyspace.queueKey("handoff"), keyspace.waitersKey("handoff")))
        } catch {
            await client.close()
            throw error
        }
        await client.close()

        var report = BenchReport(scenario: fair ? "handoff-fair" : "handoff")
        report.add("acquisitions", Double(records.count))
        report.add("counter", Double(counterValue))
        report.add("counter_ok", counterValue == records.count ? 1 : 0)
        report.add("overlaps", Double(overlaps))
        report.add("gap_p50_ms", percentile(gaps, 50))
        report.add("gap_p99_ms", percentile(gaps, 99))
        report.add("wait_p50_ms", percentile(records.map { Double($0.waited) / 1e6 }, 50))
        report.add("wait_p99_ms", percentile(records.map { Double($0.waited) / 1e6 }, 99))
        report.add("hold_p50_ms", percentile(records.map { Double($0.releasing - $0.acquired) / 1e6 }, 50))
        let fewest = perWorker.min() ?? 0
        let most = perWorker.max() ?? 1
        report.add("fairness", most > 0 ? Double(fewest) / Double(most) : 0)
        report.add("workers", Double(workers))
        report.add("failed_workers", Double(failures.count))
        report.add("failed_acquires", Double(failedAcquires))
        report.add("releases_not_released", Double(notReleased))
        for failure in failures { report.require(false, failure) }
        report.require(counterValue == records.count, "counter \(counterValue) != acquisitions \(records.count)")
        // A release that did not answer `released` found the lease expired: the hold was not exclusive to its end.
        report.require(notReleased == 0, "\(notReleased) releases did not answer released (lease expired)")
        report.require(overlaps == 0, "\(overlaps) pairs of holds overlapped: mutual exclusion broken")
        try report.print(json: options.json)
    }

    private func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[rank]
    }
}

struct HandoffRecord: Equatable {
    let acquired: Int64
    let releasing: Int64
    let waited: Int64
}

/// Hand-off gaps and overlapping holds, from every worker's records on one clock.
enum HandoffAnalysis {
    /// `gaps`: for each hand-off (the next holder was already waiting when the previous one
    /// called release), release call -> next acquire returning, in ms. `overlaps`: pairs of holds
    /// where one was acquired before the other's release call, which mutual exclusion forbids;
    /// such a pair gives no gap.
    static func gapsAndOverlaps(_ records: [HandoffRecord]) -> (gaps: [Double], overlaps: Int) {
        let sorted = records.sorted { $0.acquired < $1.acquired }
        var gaps: [Double] = []
        var overlaps = 0
        // Release times of earlier holds still open at the current acquire. Acquires only move
        // later, so a hold that ended before one acquire ended before every later one too.
        var open: [Int64] = []
        for (index, next) in sorted.enumerated() {
            open.removeAll { $0 < next.acquired }
            overlaps += open.count
            open.append(next.releasing)
            guard index > 0 else { continue }
            let previous = sorted[index - 1]
            // Only a real hand-off: the next holder was waiting when the previous one released.
            if next.acquired > previous.releasing, next.acquired - next.waited < previous.releasing {
                gaps.append(Double(next.acquired - previous.releasing) / 1e6)
            }
        }
        return (gaps, overlaps)
    }
}

/// What one worker printed, and whether it failed: a `failed <phase> <message>` line, a missing
/// final `done` line (killed, or crashed before it), or an exit that was not a clean 0.
struct HandoffWorkerOutput {
    var records: [HandoffRecord] = []
    var failure: String?
    /// The phase of the loop a `failed` line names (`acquire`, `counter`, `release`, …).
    var failedPhase: String?
    /// Releases that answered something other than `released` (an `unreleased <n>` line).
    var notReleased = 0

    static func parse(_ text: String, exitedNormally: Bool, status: Int32) -> HandoffWorkerOutput {
        var output = HandoffWorkerOutput()
        var done = false
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 2)
            if fields.first == "failed" {
                output.failedPhase = fields.count > 1 ? String(fields[1]) : nil
                output.failure = "failed in \(fields.dropFirst().joined(separator: ": "))"
            } else if line == "done" {
                done = true
            } else if fields.first == "unreleased", fields.count == 2, let count = Int(fields[1]) {
                output.notReleased += count
            } else {
                let numbers = line.split(separator: " ").compactMap { Int64($0) }
                guard numbers.count == 3 else { continue }
                output.records.append(HandoffRecord(acquired: numbers[0], releasing: numbers[1], waited: numbers[2]))
            }
        }
        if output.failure == nil {
            if !exitedNormally {
                output.failure = "killed by signal \(status)"
            } else if status != 0 {
                output.failure = "exited with status \(status)"
            } else if !done {
                output.failure = "ended without reporting done"
            }
        }
        return output
    }
}

/// One worker process of `handoff` (started by it; prints `acquired releasing waited` lines).
struct HandoffWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "handoff-worker", shouldDisplay: false)

    @Option var url: String
    @Option var seconds: Double
    @Option var worker: Int
    @Flag var fair = false
    @Flag var onLoop = false
    @Option var ttlMilliseconds = 5000
    @Option var holdMilliseconds = 1

    func run() async throws {
        let redis = try RedisClient(url: url)
        let locks = try LockClient(
            backend: RedisLockBackend(client: redis, keyspace: LockKeyspace(prefix: "locky:bench:")),
            configuration: LockyConfiguration(label: "worker-\(worker)"),
            tracer: nil
        )
        let counterKey = HandoffScenario.counterKey
        let end = Monotonic.nanoseconds() + Int64(seconds * 1e9)
        // The workload's sleeps run on NIO's timer (a timerfd on the connection's loop).
        // `Task.sleep` (a dispatch timer, then a thread hop) made the 1 ms hold 0.1–0.2 ms longer
        // at p50 and far longer in the tail, so every wait measured more than this workload.
        @Sendable func sleep(milliseconds: Int64) async throws {
            try await redis.eventLoop.scheduleTask(in: .milliseconds(milliseconds)) {}.futureResult.get()
        }
        // Records are kept when the loop fails, and the failure is printed with them: the harness
        // must see a worker that stopped early, not mistake it for a slow one.
        let ttl = Duration.milliseconds(ttlMilliseconds)
        let loop: () async -> (output: String, failure: String?) = {
            var output = ""
            var notReleased = 0
            var phase = "acquire"
            var held: Lease?
            do {
                while Monotonic.nanoseconds() < end {
                    let before = Monotonic.nanoseconds()
                    phase = "acquire"
                    let lease = try await locks.acquire("handoff", ttl: ttl, timeout: .seconds(60), fair: fair)
                    held = lease
                    let acquired = Monotonic.nanoseconds()
                    phase = "counter"
                    let value = try await redis.execute(RESPCommand("GET", counterKey))
                    let current = (try? value.decode(as: Int.self)) ?? 0
                    try await sleep(milliseconds: Int64(holdMilliseconds))
                    _ = try await redis.execute(RESPCommand("SET", counterKey, current + 1))
                    let releasing = Monotonic.nanoseconds()
                    phase = "release"
                    if try await locks.release(lease) != .released { notReleased += 1 }
                    held = nil
                    output += "\(acquired) \(releasing) \(acquired - before)\n"
                    phase = "work"
                    try await sleep(milliseconds: 5)
                }
                return (output + "unreleased \(notReleased)\n", nil)
            } catch {
                // Let the others go on at once rather than after the TTL.
                if let held { _ = try? await locks.release(held) }
                let message = "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
                return (output + "unreleased \(notReleased)\n", "failed \(phase) \(message)")
            }
        }
        let result = onLoop ? await withTaskExecutorPreference(redis.taskExecutor, operation: loop) : await loop()
        FileHandle.standardOutput.write(Data((result.output + (result.failure ?? "done") + "\n").utf8))
        await redis.close()
        if result.failure != nil { throw ExitCode.failure }
    }
}
