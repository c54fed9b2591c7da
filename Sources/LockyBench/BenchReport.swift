import Foundation

/// Prints a scenario's results as a table, or as one JSON object with `--json`.
struct BenchReport {
    let scenario: String
    private(set) var values: [(String, Double)] = []
    private(set) var notes: [(String, String)] = []

    init(scenario: String) {
        self.scenario = scenario
    }

    mutating func add(_ key: String, _ value: Double) {
        values.append((key, value))
    }

    mutating func note(_ key: String, _ value: String) {
        notes.append((key, value))
    }

    func print(json: Bool) {
        if json {
            var object: [String: Any] = ["scenario": scenario]
            for (key, value) in values { object[key] = (value * 1000).rounded() / 1000 }
            for (key, value) in notes { object[key] = value }
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
                Swift.print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        Swift.print("locky-bench \(scenario)")
        let width = (values.map(\.0.count) + notes.map(\.0.count)).max() ?? 10
        for (key, value) in values {
            Swift.print("  \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(String(format: "%.3f", value))")
        }
        for (key, value) in notes {
            Swift.print("  \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)")
        }
    }
}
