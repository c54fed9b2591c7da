import Foundation
import Testing

@testable import LockyBench

#if canImport(Glibc)
    import Glibc
#endif

/// `handoff` fails, and says why, when a worker fails; pure parts tested on synthetic records.
@Suite("Handoff scenario", .serialized)
struct HandoffScenarioTests {
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

        let silent = HandoffWorkerOutput.parse("10 20 5\n", exitedNormally: true, status: 0)
        #expect(silent.failure != nil, "no done line: the worker did not finish")
    }

    @Test func aKilledWorkerFailsTheRun() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
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
