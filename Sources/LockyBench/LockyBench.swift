import ArgumentParser

@main
struct LockyBench: AsyncParsableCommand {
    func run() async throws {}
}
