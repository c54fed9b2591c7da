import Foundation
import LockyTestSupport
import Testing

/// With --url, a run leaves nothing behind, so a second run on the same server works.
@Suite("Second run on the same server", .serialized)
struct SecondRunTests {
    @Test func renewalReleasesItsLeases() async throws {
        try await RedisServer.withServer { redis in
            let arguments = ["renewal", "--url", redis.url, "--leases", "50", "--hold", "1", "--ttl", "3", "--json"]
            for run in 1...2 {
                let result = try await BenchRun.run(arguments, limit: .seconds(60))
                #expect(result.status == 0, "run \(run): \(result.stdout) \(result.stderr)")
                #expect(try result.number("lost") == 0, "run \(run): \(result.stdout)")
                #expect(try redis.cli("--scan", "--pattern", "locky:bench:*") == "", "run \(run) left keys")
            }
        }
    }

    @Test func handoffResetsAndDeletesItsCounter() async throws {
        try await RedisServer.withServer { redis in
            let arguments = ["handoff", "--url", redis.url, "--seconds", "1", "--workers", "2", "--json"]
            for run in 1...2 {
                let result = try await BenchRun.run(arguments, limit: .seconds(60))
                #expect(result.status == 0, "run \(run): \(result.stdout) \(result.stderr)")
                #expect(try result.number("counter_ok") == 1, "run \(run): \(result.stdout)")
                #expect(try redis.cli("--scan", "--pattern", "locky:bench:*") == "", "run \(run) left keys")
            }
            // A count left by someone else is reset, not added to.
            try redis.cli("SET", "locky:bench:handoff:counter", "1000")
            let result = try await BenchRun.run(arguments, limit: .seconds(60))
            #expect(try result.number("counter_ok") == 1, "\(result.stdout)")
        }
    }
}
