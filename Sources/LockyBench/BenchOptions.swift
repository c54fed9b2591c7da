import ArgumentParser

/// Options every scenario shares.
struct BenchOptions: ParsableArguments {
    @Flag(help: "Print one JSON object on stdout and nothing else.")
    var json = false

    // Optional so that each scenario keeps its own default: handoff runs 10 s, as its issue says.
    @Option(help: "Seconds of measurement (default 5 per phase, split over the rounds; handoff: 10 in all).")
    var seconds: Double?

    @Option(help: "Rounds; floor and client alternate, medians are compared.")
    var rounds = 5

    @Option(help: "redis-server URL to use instead of starting one (the floor then runs against it too).")
    var url: String?

    /// `--seconds`, or the scenario's default when it was not given.
    func measuredSeconds(default fallback: Double) -> Double { seconds ?? fallback }

    func validate() throws {
        // A zero or negative length or round count divides by zero further on (NaN rates).
        if let seconds { try BenchValidation.positive(seconds, "--seconds") }
        try BenchValidation.positive(rounds, "--rounds")
    }
}

/// Checks of scenario options, with the message ArgumentParser shows.
enum BenchValidation {
    static func positive(_ value: Double, _ name: String) throws {
        guard value.isFinite, value > 0 else { throw ValidationError("\(name) must be a number greater than 0, not \(value)") }
    }

    static func positive(_ value: Int, _ name: String) throws {
        guard value > 0 else { throw ValidationError("\(name) must be greater than 0, not \(value)") }
    }
}
