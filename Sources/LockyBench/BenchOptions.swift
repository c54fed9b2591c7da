import ArgumentParser

/// Options every scenario shares.
struct BenchOptions: ParsableArguments {
    @Flag(help: "Print one JSON object on stdout and nothing else.")
    var json = false

    @Option(help: "Seconds per measured phase.")
    var seconds: Double = 3

    @Option(help: "redis-server URL to use instead of starting one (the floor then runs against it too).")
    var url: String?
}
