import Foundation
import LockyTestSupport
import Testing

/// `locky run` ends COMMAND before the lock's validity runs out when it cannot be renewed.
@Suite struct CLIValidityWatchdogTests {
    /// Cut off from Redis, locky used to notice the loss at the validity's end, then give COMMAND
    /// SIGTERM and `--kill-after` (5 s) before SIGKILL: COMMAND ran on beside the next holder.
    /// Now SIGTERM comes a third of the TTL before the end and SIGKILL at the end.
    @Test("cut off from Redis, COMMAND is gone by the end of the lock's validity")
    func commandEndsWithinTheValidity() async throws {
        try await withRedis { server in
            let proxy = try await FaultProxy.start(upstream: server.port)
            let marks = FileManager.default.temporaryDirectory.path + "/locky-watchdog-\(UUID().uuidString)"
            // COMMAND ignores SIGTERM (notes it) and appends the time (ns since 1970) every 50 ms while it lives.
            let running = try LockyBinary.Running(
                [
                    "run", "cut", "--ttl", "3s", "--", "sh", "-c",
                    "trap 'echo term >> \(marks).term' TERM; echo started; while :; do date +%s%N >> \(marks).beat; sleep 0.05; done",
                ],
                url: proxy.url)
            try await running.waitFor { $0.contains("started") }
            let cut = Date().timeIntervalSince1970
            proxy.set(.stall())
            let result = try await running.finish(timeout: .seconds(20))
            #expect(result.status == 76, "\(result.errorOutput)")
            // Dead by the 3 s validity's end (SIGKILL, as it ignores SIGTERM), not --kill-after (5 s) past it.
            // Appended, not rewritten: a kill between truncating and writing would leave nothing to read.
            let beats = (try? String(contentsOfFile: marks + ".beat", encoding: .utf8)) ?? ""
            let lastBeat = beats.split(whereSeparator: \.isNewline).compactMap { Double($0) }.last
            let livedAfterCut = ((lastBeat ?? .infinity) / 1e9) - cut
            #expect(livedAfterCut < 3.0, "COMMAND lived \(livedAfterCut) s after the cut")
            #expect((try? String(contentsOfFile: marks + ".term", encoding: .utf8))?.contains("term") == true)
            for suffix in [".beat", ".term"] { try? FileManager.default.removeItem(atPath: marks + suffix) }
            await proxy.stop()
        }
    }

    /// When COMMAND died at once of the watchdog's SIGTERM, its exit could be taken before the
    /// watchdog's own answer: locky then passed on COMMAND's 143, with no message, as if it
    /// had ended by itself (about one run in eight), instead of exit 76 saying why.
    @Test("cut off from Redis, a COMMAND that dies of the SIGTERM still makes locky exit 76 saying why, every time")
    func commandDyingAtOnceStillReportsTheLoss() async throws {
        try await withRedis { server in
            // The release after the loss waits for the stopped server at most this long.
            let url = server.url + "?command_timeout=300ms"
            for attempt in 1...25 {
                let running = try LockyBinary.Running(
                    ["run", "quick-\(attempt)", "--ttl", "300ms", "--", "sh", "-c", "echo started; sleep 30"], url: url)
                try await running.waitFor { $0.contains("started") }
                server.pause()
                let result = try await running.finish(timeout: .seconds(10))
                server.resume()
                #expect(result.status == 76, "attempt \(attempt): \(result.errorOutput)")
                // The watchdog's message, or the library's when it noticed the loss first (under load).
                #expect(result.errorOutput.contains("COMMAND was terminated"), "attempt \(attempt): \(result.errorOutput)")
                if result.status != 76 { break }
            }
        }
    }
}
