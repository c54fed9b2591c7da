import ArgumentParser
import Foundation
import Locky
import LockyRESP
import LockyRedis

/// The exit codes of `locky` (sysexits.h where one fits).
enum ExitStatus {
    /// Everything done.
    static let success: Int32 = 0
    /// Something else failed (a server error, a failed demo check, output that could not be written).
    static let failure: Int32 = 1
    /// Bad arguments: an empty resource, a bad duration, a malformed URL (EX_USAGE).
    static let usage: Int32 = 64
    /// Redis could not be reached (EX_UNAVAILABLE).
    static let unavailable: Int32 = 69
    /// The lock is held by someone else, so it was not taken (EX_TEMPFAIL).
    static let busy: Int32 = 75
    /// The lock was lost: while COMMAND ran (`run`), or found gone by `refresh` (free, or held by another).
    static let lockLost: Int32 = 76
    /// Redis refused the credentials (a wrong password or user), or a command to this user (NOPERM): EX_NOPERM.
    static let authenticationFailed: Int32 = 77
    /// Redis refused a setting of the URL: a database index it does not have (EX_CONFIG).
    static let configuration: Int32 = 78
}

/// A failure that ends `locky` with a message on standard error and a conventional exit code.
struct CLIError: Error {
    let status: Int32
    let message: String

    static func usage(_ message: String) -> CLIError { CLIError(status: ExitStatus.usage, message: message) }

    /// Maps a lock error to a message and exit code; `configuration` names the server.
    static func from(_ error: any Error, configuration: LockyConfiguration?) -> CLIError {
        if let error = error as? CLIError { return error }
        guard let error = error as? LockError else {
            return CLIError(status: ExitStatus.failure, message: String(describing: error))
        }
        let address = configuration.map(Self.address(of:)) ?? "the backend"
        switch error.code {
        case .invalidArgument:
            // Name the resource concerned: among many, the message alone does not say which.
            return .usage(error.resource.map { "\(error.message): \(TextField.escape($0))" } ?? error.message)
        case .backendUnavailable:
            let cause = error.underlying.map { "\($0.code): \($0.message)" } ?? error.message
            return CLIError(status: ExitStatus.unavailable, message: "cannot reach Redis at \(address): \(cause)")
        case .authenticationFailed:
            let cause = error.underlying.map { "\($0.code): \($0.message)" } ?? error.message
            return CLIError(
                status: ExitStatus.authenticationFailed,
                message: "Redis at \(address) refused the credentials (check the password and user in the URL): \(cause)")
        case .serverError where error.underlying?.serverError?.code == .noperm:
            // Retrying will not help either: the user's ACL must allow Locky's commands.
            let cause = error.underlying?.serverError?.message ?? error.message
            return CLIError(
                status: ExitStatus.authenticationFailed,
                message:
                    "Redis at \(address) denied a permission to this user (SECURITY.md lists the ACL Locky needs): NOPERM \(cause)"
            )
        case .serverError where error.underlying?.connectionCause.code == .configurationRejected:
            let cause = error.underlying.map { "\($0.code): \($0.message)" } ?? error.message
            return CLIError(
                status: ExitStatus.configuration,
                message: "Redis at \(address) refused a setting of the URL (check the database index): \(cause)")
        case .quorumNotReached:
            return CLIError(
                status: ExitStatus.unavailable,
                message: "\(error.message); \(error.nodes.map(\.description).joined(separator: "; "))")
        case .busy, .timedOut:
            let holder = error.holder.map { " (held by \($0.displayName))" } ?? ""
            return CLIError(status: ExitStatus.busy, message: "\(error.message)\(holder)")
        case .lockLost:
            return CLIError(status: ExitStatus.lockLost, message: error.message)
        case .cancelled:
            return CLIError(status: 130, message: "interrupted")
        default:
            return CLIError(status: ExitStatus.failure, message: "\(error) (server \(address))")
        }
    }

    /// `host:port`, `unix:path` or `memory`.
    static func address(of configuration: LockyConfiguration) -> String {
        switch configuration.backend {
        case .memory: return "memory://"
        case .redis(let redis): return redis.address.description
        case .redlock(let redlock): return redlock.nodes.map(\.address.description).joined(separator: ",")
        }
    }
}

/// Runs a subcommand's body: errors become a message on standard error and the matching exit code.
func reportingErrors(
    configuration: LockyConfiguration? = nil,
    _ body: () async throws -> Int32
) async throws {
    let status: Int32
    do {
        status = try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        let failure = CLIError.from(error, configuration: configuration)
        Terminal.error("locky: \(failure.message)")
        throw ExitCode(failure.status)
    }
    let final = Terminal.exitStatus(after: status)
    if final != 0 { throw ExitCode(final) }
}

/// Builds the configuration (`adjust` may change it, or refuse it with a ``CLIError``) and runs
/// `body` with a client (its renewal loop running), mapping errors.
func withLockClient(
    _ options: GlobalOptions,
    adjust: (inout LockyConfiguration) throws(CLIError) -> Void = { _ in },
    _ body: @escaping @Sendable (LockClient) async throws -> Int32
) async throws {
    var configuration = try options.configurationOrExit()
    do {
        try adjust(&configuration)
    } catch {
        Terminal.error("locky: \(error.message)")
        throw ExitCode(error.status)
    }
    let finalConfiguration = configuration
    try await reportingErrors(configuration: finalConfiguration) {
        try await LockClient.withClient(configuration: finalConfiguration, body)
    }
}
