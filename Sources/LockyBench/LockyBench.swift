import ArgumentParser

/// `locky-bench`: Locky's benchmarks. Each scenario measures its floor (redis-benchmark) in the
/// same run and reports ratios. Run in release: `swift run -c release locky-bench <scenario>`.
@main
struct LockyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locky-bench",
        abstract: "Benchmarks for Locky, each against the floor measured in the same run.",
        subcommands: [
            RESPScenario.self, UncontendedScenario.self, ConcurrentScenario.self, BatchScenario.self,
            HandoffScenario.self, HandoffWorker.self, RenewalScenario.self, ExpiryScenario.self, RedlockScenario.self,
            ChaosScenario.self, ChaosWorker.self, SoakScenario.self, ProfileScenario.self, PushFloorScenario.self,
            PushFloorWorker.self,
        ]
    )
}
