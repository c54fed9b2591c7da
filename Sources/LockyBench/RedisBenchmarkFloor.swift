import Foundation

/// Runs `redis-benchmark` for the floor of a scenario and parses its CSV line.
enum RedisBenchmarkFloor {
    struct Result {
        let requestsPerSecond: Double
        let p50Milliseconds: Double
        let p99Milliseconds: Double
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `redis-benchmark -h host -p port -c clients -P pipeline -n requests --csv <command…>`.
    static func run(host: String, port: Int, clients: Int, pipeline: Int = 1, requests: Int, command: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "redis-benchmark", "-h", host, "-p", String(port), "-c", String(clients), "-P", String(pipeline), "-n",
                String(requests), "--csv",
            ]
            + command
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "redis-benchmark exited with \(process.terminationStatus); is redis-tools installed?")
        }
        let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
        guard let line = lines.last(where: { !$0.hasPrefix("\"test\"") }) else {
            throw Failure(description: "redis-benchmark printed no result")
        }
        let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        guard fields.count >= 7, let rps = Double(fields[1]), let p50 = Double(fields[4]), let p99 = Double(fields[6]) else {
            throw Failure(description: "cannot parse redis-benchmark output: \(line)")
        }
        return Result(requestsPerSecond: rps, p50Milliseconds: p50, p99Milliseconds: p99)
    }
}
