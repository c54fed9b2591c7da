import ArgumentParser
import Foundation

/// Prints a scenario's results as a table, or as one JSON object with `--json`.
///
/// A run that breaks one of its own checks (a value that is not a finite number, or a
/// `require` that failed) is still printed in full, with its `problems`, and then fails:
/// ``print(json:)`` throws so the process exits non-zero. A script reading the JSON can never
/// take a broken run for a good one.
struct BenchReport {
    let scenario: String
    private(set) var values: [(String, Double)] = []
    private(set) var notes: [(String, String)] = []
    /// Why the run failed, in the order found; empty for a good run.
    private(set) var problems: [String] = []

    init(scenario: String) {
        self.scenario = scenario
    }

    mutating func add(_ key: String, _ value: Double) {
        // JSON has no NaN or infinity; such a value means a computation went wrong (a division by
        // zero time), which must fail the run rather than vanish from it.
        if !value.isFinite { problems.append("\(key) is \(value), not a finite number") }
        values.append((key, value))
    }

    mutating func note(_ key: String, _ value: String) {
        notes.append((key, value))
    }

    /// Records `problem` when `condition` does not hold.
    mutating func require(_ condition: Bool, _ problem: @autoclosure () -> String) {
        if !condition { problems.append(problem()) }
    }

    /// The results as one JSON object; a non-finite value is written as `null`.
    func json() throws -> String {
        var object: [String: Any] = ["scenario": scenario]
        for (key, value) in values { object[key] = value.isFinite ? (value * 1000).rounded() / 1000 : NSNull() }
        for (key, value) in notes { object[key] = value }
        if !problems.isEmpty { object["problems"] = problems }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Prints the results, then throws `ExitCode.failure` when the run has problems.
    func print(json: Bool) throws {
        if json {
            Swift.print(try self.json())
        } else {
            Swift.print("locky-bench \(scenario)")
            let width = (values.map(\.0.count) + notes.map(\.0.count)).max() ?? 10
            for (key, value) in values {
                Swift.print("  \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(String(format: "%.3f", value))")
            }
            for (key, value) in notes {
                Swift.print("  \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)")
            }
        }
        guard !problems.isEmpty else { return }
        // On stderr too, so a human sees why the exit status is not 0 even with --json.
        for problem in problems { FileHandle.standardError.write(Data("locky-bench \(scenario): \(problem)\n".utf8)) }
        throw ExitCode.failure
    }
}
