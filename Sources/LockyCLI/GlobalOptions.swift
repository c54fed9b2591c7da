import ArgumentParser
import Foundation
import Locky

/// Options every subcommand takes: where the locks live and how results are printed.
struct GlobalOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Redis URL (redis://, rediss://, unix://, memory://); a comma-separated list means Redlock. Default: LOCKY_URL, else redis://127.0.0.1:6379.",
            valueName: "url"
        )
    )
    var url: String?

    @Option(help: ArgumentHelp("Key prefix. Default: LOCKY_PREFIX, else locky:.", valueName: "prefix"))
    var prefix: String?

    @Flag(help: "Print one JSON object per result (JSON lines for streams).")
    var json = false

    /// The URL given by `--url` or `LOCKY_URL`, if any.
    var explicitURL: String? {
        if let url { return url }
        let fromEnvironment = ProcessInfo.processInfo.environment["LOCKY_URL"] ?? ""
        return fromEnvironment.trimmingCharacters(in: .whitespaces).isEmpty ? nil : fromEnvironment
    }

    /// The client configuration: `LOCKY_CONFIG`, overridden by `LOCKY_URL`/`LOCKY_PREFIX`, overridden by the options.
    func configuration(url override: String? = nil) throws(CLIError) -> LockyConfiguration {
        var environment = ProcessInfo.processInfo.environment
        environment["LOCKY_URL"] = nil
        if prefix != nil { environment["LOCKY_PREFIX"] = nil }
        var configuration: LockyConfiguration
        do {
            configuration = try LockyConfiguration.fromEnvironment(environment)
            if let url = override ?? explicitURL {
                switch try Endpoint(parsing: url) {
                case .single(let backend): configuration.backend = backend
                }
            }
            if let prefix { configuration.prefix = prefix }
            try configuration.validate()
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError.usage(error.message)
        }
        return configuration
    }
}

/// What a `--url` names. The one place a URL list is told apart from a single URL, so Redlock can be wired here.
enum Endpoint {
    /// One server (or the in-memory backend).
    case single(LockyConfiguration.Backend)

    /// Parses `url`; a comma-separated list is Redlock, which is not available yet (usage error).
    init(parsing url: String) throws {
        let nodes = url.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        if nodes.count > 1 {
            if nodes.contains(where: \.isEmpty) { throw CLIError.usage("malformed URL list \"\(url)\": an empty entry") }
            for node in nodes { _ = try LockyConfiguration(url: node) }
            throw CLIError.usage("Redlock (a comma-separated --url of \(nodes.count) nodes) is not available yet; give one URL")
        }
        self = .single(try LockyConfiguration(url: url).backend)
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
