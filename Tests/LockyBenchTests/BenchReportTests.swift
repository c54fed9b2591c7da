import ArgumentParser
import Foundation
import LockyTestSupport
import Testing

@testable import LockyBench

/// A run that cannot give a number must say so and fail, never print nothing and exit 0.
@Suite("Bench report", .serialized)
struct BenchReportTests {
    @Test func aNonFiniteValueIsAProblemAndTheJSONIsStillWritten() throws {
        var report = BenchReport(scenario: "test")
        report.add("fine", 1.5)
        report.add("per_tick", 0.0 / 0.0)
        report.add("rate", 1.0 / 0.0)
        #expect(report.problems.count == 2)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(try report.json().utf8)) as? [String: Any])
        #expect((object["fine"] as? NSNumber)?.doubleValue == 1.5)
        #expect(object["per_tick"] is NSNull)
        #expect(object["rate"] is NSNull)
        #expect((object["problems"] as? [String])?.count == 2)
        #expect(throws: ExitCode.failure) { try report.print(json: true) }
    }

    @Test func aFailedRequirementFailsTheRun() throws {
        var report = BenchReport(scenario: "test")
        report.add("missing", 1)
        report.require(false, "missing is 1")
        #expect(report.problems == ["missing is 1"])
        #expect(throws: ExitCode.failure) { try report.print(json: true) }
    }

    @Test func aCleanRunHasNoProblems() throws {
        var report = BenchReport(scenario: "test")
        report.add("value", 2)
        report.require(true, "never")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(try report.json().utf8)) as? [String: Any])
        #expect(object["problems"] == nil)
        try report.print(json: true)
    }

    @Test(arguments: [
        ["renewal", "--leases", "10", "--hold", "0"],
        ["renewal", "--leases", "0"],
        ["renewal", "--ttl=-1"],
        ["expiry", "--locks", "0"],
        ["handoff", "--workers", "0"],
        ["concurrent", "--tasks", "0"],
        ["uncontended", "--seconds", "0"],
        ["uncontended", "--rounds", "0"],
    ])
    func optionsThatWouldDivideByZeroAreRefused(arguments: [String]) async throws {
        try await RedisServer.withServer { redis in
            // A real server, so that without the check the run would go ahead (and, before, exit 0).
            let run = try await BenchRun.run(arguments + ["--json", "--url", redis.url], limit: .seconds(30))
            #expect(!run.timedOut)
            #expect(run.status != 0, "stdout: \(run.stdout)")
            #expect(run.stderr.contains("must be"), "stderr: \(run.stderr)")
        }
    }
}
