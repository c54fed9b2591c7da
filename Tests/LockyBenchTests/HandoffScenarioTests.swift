import ArgumentParser
import Foundation
import LockyTestSupport
import Testing

@testable import LockyBench

#if canImport(Glibc)
    import Glibc
#endif

/// `handoff` fails, and says why, when a worker fails; pure parts tested on synthetic records.
@Suite("Handoff scenario", .serialized)
struct HandoffScenarioTests {
    @Test func handoffRunsTenSecondsUnlessToldOtherwise() throws {
        #expect(try HandoffScenario.parse([]).seconds == 10, "the issue's run length")
        #expect(try HandoffScenario.parse(["--seconds", "4"]).seconds == 4)
        // The other scenarios keep their 5 s per phase.
        #expect(try UncontendedScenario.parse([]).options.measuredSeconds(default: 5) == 5)
    }

    @Test func aWorkerThatStoppedEarlyIsAFailure() {
        let clean = HandoffWorkerOutput.parse("10 20 5\n30 40 6\ndone\n", exitedNormally: true, status: 0)
        #expect(clean.records.count == 2)
        #expect(clean.failure == nil)

        let killed = HandoffWorkerOutput.parse("10 20 5\n", exitedNormally: false, status: SIGKILL)
        #expect(killed.records.count == 1)
        #expect(killed.failure != nil)

        let thrown = HandoffWorkerOutput.parse(
            "10 20 5\nfailed acquire timed out after 60 s\n", exitedNormally: true, status: 1)
        #expect(thrown.records.count == 1, "records before the failure are kept")
        #expect(thrown.failedPhase == "acquire")
        #expect(thrown.failure?.contains("timed out") == true)

        let expired = HandoffWorkerOutput.parse("10 20 5\nunreleased 2\ndone\n", exitedNormally: true, status: 0)
        #expect(expired.notReleased == 2)
        #expect(expired.records.count == 1)

        let silent = HandoffWorkerOutput.parse("10 20 5\n", exitedNormally: true, status: 0)
        #expect(silent.failure != nil, "no done line: the worker did not finish")
    }

    @Test func overlappingHoldsAreCountedNotSkipped() {
        func record(_ acquired: Int64, _ releasing: Int64, waited: Int64 = 1_000_000) -> HandoffRecord {
            HandoffRecord(acquired: acquired, releasing: releasing, waited: waited)
        }
        // Clean hand-offs: each next holder acquires 0.1 ms after the previous release call.
        let clean = HandoffAnalysis.gapsAndOverlaps([
            record(1_000_000, 2_000_000), record(2_100_000, 3_100_000), record(3_200_000, 4_200_000),
        ])
        #expect(clean.overlaps == 0)
        #expect(clean.gaps.count == 2)
        #expect(clean.gaps.allSatisfy { abs($0 - 0.1) < 1e-9 })

        // The second holder acquired before the first called release: one overlapping pair, no gap.
        let overlapping = HandoffAnalysis.gapsAndOverlaps([
            record(1_000_000, 2_000_000), record(1_500_000, 2_500_000), record(2_600_000, 3_600_000),
        ])
        #expect(overlapping.overlaps == 1)
        #expect(overlapping.gaps.count == 1, "only the clean hand-off 2 -> 3")

        // A long hold overlapped by two later ones, not adjacent to the second: two pairs.
        let long = HandoffAnalysis.gapsAndOverlaps([record(0, 10_000_000), record(1_000, 2_000), record(3_000, 4_000)])
        #expect(long.overlaps == 2)
    }

    @Test func releasesOfExpiredLeasesAreCountedAndFailTheRun() async throws {
        try await RedisServer.withServer { redis in
            // A 20 ms TTL is shorter than every hold (GET, 40 ms, SET): releases find the lease expired.
            let run = try await BenchRun.run(
                [
                    "handoff", "--url", redis.url, "--seconds", "2", "--workers", "2", "--ttl-milliseconds", "20",
                    "--hold-milliseconds", "40", "--json",
                ],
                limit: .seconds(60))
            #expect(!run.timedOut)
            #expect(run.status != 0, "\(run.stdout)")
            #expect(try run.number("releases_not_released") ?? 0 > 0, "\(run.stdout)")
        }
    }

    @Test func aKilledWorkerFailsTheRun() async throws {
        try await RedisServer.withServer { redis in
            let run = try await BenchRun.run(
                ["handoff", "--url", redis.url, "--seconds", "4", "--workers", "3", "--json"], limit: .seconds(60)
            ) { pid in
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(10)
                var workers: [Int32] = []
                while workers.count < 3 {
                    try #require(clock.now < deadline, "the workers did not start")
                    try await Task.sleep(for: .milliseconds(50))
                    workers = BenchRun.children(of: pid)
                }
                // Once they are under way: the killed one has records the harness then cannot see.
                try await Task.sleep(for: .seconds(1.5))
                if let victim = workers.last { kill(victim, SIGKILL) }
            }
            #expect(!run.timedOut)
            #expect(run.status != 0, "\(run.stdout)")
            #expect(try run.number("failed_workers") == 1, "\(run.stdout)")
        }
    }
}
