import ArgumentParser
import Foundation
import LockyRESP
import LockyRedis

/// `push-floor` (hidden): the floor of a push-woken hand-off with this client on this machine.
/// One process publishes (as a release does); another, subscribed, wakes on its event loop and
/// sends one command (as a woken waiter's acquire does). Reports publish call → reply, p50/p99.
struct PushFloorScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push-floor",
        abstract: "Publish in one process → a subscriber in another wakes and sends one command.",
        shouldDisplay: false
    )

    @OptionGroup var options: BenchOptions

    @Option(help: "Pings.")
    var pings = 2000

    func validate() throws {
        try BenchValidation.positive(pings, "--pings")
    }

    func run() async throws {
        try await BenchServer.with(options) { server in
            let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            let process = Process()
            process.executableURL = executable
            process.arguments = ["push-floor-worker", "--url", server.url, "--pings", String(pings)]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let redis = try RedisClient(url: server.url)
            // Wait until the worker is subscribed.
            while true {
                let count = try await redis.execute(RESPCommand("PUBSUB", "NUMSUB", "locky:bench:push"))
                if case .array(let items) = count.value, items.count == 2,
                    (try? Array(items)[1].decode(as: Int.self)) == 1
                {
                    break
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            for _ in 0..<pings {
                try await Task.sleep(for: .milliseconds(2))
                _ = try await redis.execute(RESPCommand("PUBLISH", "locky:bench:push", String(Monotonic.nanoseconds())))
            }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            await redis.close()
            let gaps = String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { Double($0) }.sorted()
            var report = BenchReport(scenario: "push-floor")
            report.add("pings", Double(gaps.count))
            report.add("p50_ms", gaps.isEmpty ? 0 : gaps[gaps.count / 2] / 1e6)
            report.add("p99_ms", gaps.isEmpty ? 0 : gaps[min(gaps.count - 1, gaps.count * 99 / 100)] / 1e6)
            try report.print(json: options.json)
        }
    }
}

/// The subscribed side of `push-floor`.
struct PushFloorWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push-floor-worker", shouldDisplay: false)

    @Option var url: String
    @Option var pings: Int

    func run() async throws {
        let redis = try RedisClient(url: url)
        let (stream, continuation) = AsyncStream.makeStream(of: Int64.self)
        let output = try await redis.subscribe(
            channels: ["locky:bench:push"],
            handler: { event in
                if case .message(let message) = event, let sent = Int64(message.payloadString) {
                    continuation.yield(sent)
                }
            }
        ) {
            try await withTaskExecutorPreference(redis.taskExecutor) {
                var output = ""
                var received = 0
                for await sent in stream {
                    _ = try await redis.execute(RESPCommand("SET", "locky:bench:push:key", "1"))
                    output += "\(Monotonic.nanoseconds() - sent)\n"
                    received += 1
                    if received == pings { break }
                }
                return output
            }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
        await redis.close()
    }
}
