import ArgumentParser
import Foundation
import Locky

/// Options every subcommand takes: where the locks live and how results are printed.
struct GlobalOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Redis URL (redis://, rediss://, unix://, memory://); a comma-separated list means Redlock. Default: LOCKY_URL, else LOCKY_CONFIG's url, else redis://127.0.0.1:6379.",
            valueName: "url"
        )
    )
    var url: String?

    @Option(
        help: ArgumentHelp("Key prefix. Default: LOCKY_PREFIX, else LOCKY_CONFIG's prefix, else locky:.", valueName: "prefix"))
    var prefix: String?

    @Flag(help: "Print one JSON object per result (JSON lines for streams).")
    var json = false

    /// Rejects a prefix given as bytes that are not UTF-8: read as U+FFFD, it would be another prefix's.
    func validate() throws {
        try validateUTF8([prefix])
    }

    /// The URL given by `--url` or `LOCKY_URL`, if any.
    var explicitURL: String? {
        if let url { return url }
        let fromEnvironment = ProcessInfo.processInfo.environment["LOCKY_URL"] ?? ""
        return fromEnvironment.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : fromEnvironment
    }

    /// ``configuration(url:)``, or its error reported and the process exiting with its status.
    func configurationOrExit() throws -> LockyConfiguration {
        do {
            return try configuration()
        } catch {
            Terminal.error("locky: \(error.message)")
            throw ExitCode(error.status)
        }
    }

    /// The configuration of a subcommand that needs a Redis server (`status`, `watch`): a bad
    /// configuration, or `memory://`, whose locks live in one process only, is reported and exits.
    func redisConfiguration(for subcommand: String) throws -> LockyConfiguration {
        let configuration = try configurationOrExit()
        if case .memory = configuration.backend {
            Terminal.error("locky: \(subcommand) needs a Redis server; memory:// locks live in one process only")
            throw ExitCode(ExitStatus.usage)
        }
        return configuration
    }

    /// The client configuration: `LOCKY_CONFIG`, overridden by `LOCKY_URL`/`LOCKY_PREFIX`, overridden by the options.
    func configuration(url override: String? = nil) throws(CLIError) -> LockyConfiguration {
        if let url = override ?? self.url, url.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            // LOCKY_URL blank counts as unset; an empty --url is a mistake, not the default server.
            throw CLIError.usage("malformed URL: --url is empty")
        }
        var environment = ProcessInfo.processInfo.environment
        // In LOCKY_URL's place, so LOCKY_CONFIG's Redlock settings (nodeTimeout) apply to these nodes.
        environment["LOCKY_URL"] = override ?? explicitURL
        if prefix != nil { environment["LOCKY_PREFIX"] = nil }
        var configuration: LockyConfiguration
        do {
            configuration = try LockyConfiguration.fromEnvironment(environment)
            if let prefix { configuration.prefix = prefix }
            try configuration.validate()
        } catch {
            throw CLIError.usage(error.message)
        }
        return configuration
    }
}

extension Error {
    /// The message to show for an error: a ``LockError``'s text, or the description.
    var message: String {
        if let error = self as? LockError {
            return error.code == .invalidArgument ? error.message : error.description
        }
        return String(describing: self)
    }
}
