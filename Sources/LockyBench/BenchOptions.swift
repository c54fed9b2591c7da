import ArgumentParser

/// Options every scenario shares.
struct BenchOptions: ParsableArguments {
    @Flag(help: "Print one JSON object on stdout and nothing else.")
    var json = false

    @Option(help: "Seconds of measurement per phase (split over the rounds).")
    var seconds: Double = 5

    @Option(help: "Rounds; floor and client alternate, medians are compared.")
    var rounds = 5

    @Option(help: "redis-server URL to use instead of starting one (the floor then runs against it too).")
    var url: String?
}
