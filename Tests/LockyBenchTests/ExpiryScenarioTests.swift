import Foundation
import Locky
import LockyTestSupport
import Testing

@testable import LockyBench

/// `expiry` counts what goes wrong (missing, duplicate, gap, error) and never waits forever.
@Suite("Expiry scenario", .serialized)
struct ExpiryScenarioTests {
    @Test func theTallyCountsEveryKindOfTrouble() {
        var tally = ExpiryTally()
        tally.expect("expiry-0", deadline: 1_000_000)
        tally.expect("expiry-1", deadline: 2_000_000)
        tally.expect("expiry-2", deadline: 3_000_000)
        tally.record(.expired(resource: "expiry-0"), at: 1_500_000)
        tally.record(.expired(resource: "expiry-0"), at: 1_600_000)
        tally.record(.expired(resource: "expiry-9"), at: 1_700_000)
        tally.record(.gap, at: 1_800_000)
        tally.record(.unlocked(resource: "expiry-1"), at: 1_900_000)
        #expect(tally.lags == [0.5])
        #expect(tally.duplicates == 1)
        #expect(tally.unexpected == 1)
        #expect(tally.gaps == 1)
        #expect(tally.missing == 2)
    }

    @Test func aDeletedKeyEndsTheRunWithOneMissing() async throws {
        try await RedisServer.withServer { redis in
            let run = try await BenchRun.run(
                ["expiry", "--url", redis.url, "--locks", "20", "--json"], limit: .seconds(30)
            ) { _ in
                // The last lock (TTL 1.1 s) is deleted, so its expiry never comes.
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(5)
                while try redis.cli("DEL", "locky:bench:{expiry-19}") != "1" {
                    try #require(clock.now < deadline, "the lock never appeared")
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            #expect(!run.timedOut, "the run waited forever for the missing event")
            #expect(run.status != 0)
            #expect(try run.number("missing") == 1, "\(run.stdout)")
            #expect(try run.number("events") == 19, "\(run.stdout)")
            #expect(try redis.cli("--scan", "--pattern", "locky:bench:*") == "", "the run left keys")
        }
    }

    @Test func anEventStreamErrorIsReportedAndFailsTheRun() async throws {
        // Without CONFIG, keyspace notifications cannot be switched on: the stream reports an error.
        try await RedisServer.withServer(RedisServer.Options(extraConfiguration: ["rename-command CONFIG \"\""])) { redis in
            let run = try await BenchRun.run(["expiry", "--url", redis.url, "--locks", "20", "--json"], limit: .seconds(30))
            #expect(!run.timedOut)
            #expect(run.status != 0)
            #expect(try run.number("errors") ?? 0 >= 1, "\(run.stdout)")
            #expect(try run.number("missing") == 20, "\(run.stdout)")
        }
    }
}
