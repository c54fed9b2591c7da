import ArgumentParser

/// `locky demo`.
struct DemoSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "The showcase.")
    @OptionGroup var options: GlobalOptions
    func run() async throws {}
}

/// `locky demo-worker` (hidden).
struct DemoWorkerSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo-worker", shouldDisplay: false)
    func run() async throws {}
}
