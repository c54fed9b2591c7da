import ArgumentParser
import Locky

/// One resource's result, as JSON.
struct ResourceLine: Encodable {
    var resource: String
    var outcome: String
    var holder: String?
    var fencingToken: Int64?
    var remainingMs: Int64?
}

extension ResourceLine {
    /// The plain-text form, names escaped (``TextField``): `resource<TAB>outcome`, then
    /// `<TAB>token N` for one's own lock, or `<TAB>holder<TAB>token N<TAB>remaining` for
    /// another's, every field there even when unknown (`-`) or without expiry, so that a field's
    /// position never depends on the lock.
    var text: String {
        var fields = [TextField.escape(resource), outcome]
        if let holder {
            fields.append(TextField.escape(holder))
            fields.append(fencingToken.map { "token \($0)" } ?? TextField.none)
            fields.append(formatDuration(remainingMs.map { .milliseconds($0) }))
        } else if let fencingToken {
            fields.append("token \(fencingToken)")
        }
        return TextField.record(fields)
    }

    init(resource: String, outcome: String, holder: LockHolder) {
        self.init(
            resource: resource,
            outcome: outcome,
            holder: holder.displayName,
            fencingToken: holder.fencingToken,
            remainingMs: holder.remaining?.milliseconds
        )
    }

    func print(json: Bool) {
        if json { Terminal.json(self) } else { Terminal.line(text) }
    }
}

/// `locky lock`: the locker API.
struct LockSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Lock resources for a named locker (the locker API).",
        discussion: """
            Each resource is locked independently, in one round trip. A resource the locker \
            already holds has its TTL reset; one held by another locker is reported busy with \
            its holder, unless --force takes it over. Without --ttl (or LOCKY_CONFIG's \
            lockerTTL) the lock never expires.

            Prints `resource<TAB>acquired<TAB>token N`, `resource<TAB>held<TAB>token N` or \
            `resource<TAB>busy<TAB>holder<TAB>token N<TAB>remaining`.
            Exit status: 0 when every resource was taken, 75 when any was busy.

            Examples:
              locky lock article:12 article:13 --locker user:20 --ttl 10m
              locky lock article:12 --locker admin --force
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "Resources to lock.")
    var resources: [String]

    @Option(help: "Who locks them (e.g. user:20).")
    var locker: String

    @Option(
        parsing: .unconditional,
        help:
            "Expire the locks after this long (500ms, 30s, 2m, 1d; at least 100ms); default: LOCKY_CONFIG's lockerTTL, else never."
    )
    var ttl: DurationArgument?

    @Flag(help: "Take over resources held by another locker.")
    var force = false

    func validate() throws {
        try validateResources(resources)
        if locker.isEmpty { throw ValidationError("the locker id is empty") }
        try ttl?.validateAsTTL()
        try validateUTF8(resources + [locker])
    }

    func run() async throws {
        let (resources, locker, force, json) = (resources, locker, force, options.json)
        try await withLockClient(options, adjust: { configuration throws(CLIError) in try configuration.useLockerTTL(ttl) }) {
            client in
            let results = try await client.lock(resources, locker: locker, force: force)
            var busy = false
            for result in results {
                switch result.outcome {
                case .acquired(let token):
                    ResourceLine(resource: result.resource, outcome: "acquired", fencingToken: token).print(json: json)
                case .alreadyHeld(let token):
                    ResourceLine(resource: result.resource, outcome: "held", fencingToken: token).print(json: json)
                case .busy(let holder):
                    busy = true
                    ResourceLine(resource: result.resource, outcome: "busy", holder: holder).print(json: json)
                }
            }
            return busy ? ExitStatus.busy : ExitStatus.success
        }
    }
}

/// `locky unlock`.
struct UnlockSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Unlock resources: unconditionally, or only where held by --locker.",
        discussion: """
            Prints `resource<TAB>unlocked`, `resource<TAB>free`, or with --locker \
            `resource<TAB>held-by-another<TAB>holder<TAB>token<TAB>remaining` for resources left \
            untouched. Exit status 0.

            Examples:
              locky unlock article:12
              locky unlock article:12 article:13 --locker user:20
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "Resources to unlock.")
    var resources: [String]

    @Option(help: "Only unlock resources this locker holds.")
    var locker: String?

    func validate() throws {
        try validateResources(resources)
        if locker?.isEmpty == true { throw ValidationError("the locker id is empty") }
        try validateUTF8(resources + [locker])
    }

    func run() async throws {
        let (resources, locker, json) = (resources, locker, options.json)
        try await withLockClient(options) { client in
            for result in try await client.unlock(resources, locker: locker) {
                switch result.outcome {
                case .unlocked: ResourceLine(resource: result.resource, outcome: "unlocked").print(json: json)
                case .notLocked: ResourceLine(resource: result.resource, outcome: "free").print(json: json)
                case .heldByAnother(let holder):
                    ResourceLine(resource: result.resource, outcome: "held-by-another", holder: holder).print(json: json)
                }
            }
            return ExitStatus.success
        }
    }
}

/// `locky refresh`.
struct RefreshSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Reset the TTL of held locks (never creates a lock).",
        discussion: """
            Without --ttl (or LOCKY_CONFIG's lockerTTL) the locks no longer expire. Prints \
            `resource<TAB>refreshed`, \
            `resource<TAB>free` or, with --locker, \
            `resource<TAB>held-by-another<TAB>holder<TAB>token<TAB>remaining`. Exit status: 0 \
            when every resource was refreshed, 76 when any was not (free, or held by another): \
            a heartbeat loop learns that its lock is gone.

            Examples:
              locky refresh article:12 --ttl 10m
              locky refresh article:12 --locker user:20 --ttl 30s
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "Resources to refresh.")
    var resources: [String]

    @Option(
        parsing: .unconditional,
        help: "The new TTL (500ms, 30s, 2m, 1d; at least 100ms); default: LOCKY_CONFIG's lockerTTL, else no expiry.")
    var ttl: DurationArgument?

    @Option(help: "Only refresh resources this locker holds.")
    var locker: String?

    func validate() throws {
        try validateResources(resources)
        if locker?.isEmpty == true { throw ValidationError("the locker id is empty") }
        try ttl?.validateAsTTL()
        try validateUTF8(resources + [locker])
    }

    func run() async throws {
        let (resources, locker, json) = (resources, locker, options.json)
        try await withLockClient(options, adjust: { configuration throws(CLIError) in try configuration.useLockerTTL(ttl) }) {
            client in
            // A refresh that found a lock gone says so in its status, as `lock` does for busy: a
            // script that keeps its lock alive with `locky refresh` must not go on without it.
            var gone = false
            for result in try await client.refresh(resources, locker: locker) {
                switch result.outcome {
                case .refreshed: ResourceLine(resource: result.resource, outcome: "refreshed").print(json: json)
                case .notLocked:
                    gone = true
                    ResourceLine(resource: result.resource, outcome: "free").print(json: json)
                case .heldByAnother(let holder):
                    gone = true
                    ResourceLine(resource: result.resource, outcome: "held-by-another", holder: holder).print(json: json)
                }
            }
            return gone ? ExitStatus.lockLost : ExitStatus.success
        }
    }
}

/// `locky holder`.
struct HolderSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "holder",
        abstract: "Print who holds each resource.",
        discussion: """
            Prints `resource<TAB>holder`, or `resource<TAB>-` when the resource is free. A lease's \
            secret token is never printed, only its label. Exit status 0.

            Examples:
              locky holder article:12
              locky holder article:12 article:13 --json
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "Resources to look up.")
    var resources: [String]

    func validate() throws {
        try validateResources(resources)
        try validateUTF8(resources)
    }

    func run() async throws {
        let (resources, json) = (resources, options.json)
        try await withLockClient(options) { client in
            for result in try await client.holders(of: resources) {
                if json {
                    if let holder = result.outcome {
                        Terminal.json(ResourceLine(resource: result.resource, outcome: "held", holder: holder))
                    } else {
                        Terminal.json(ResourceLine(resource: result.resource, outcome: "free"))
                    }
                } else {
                    let holder = result.outcome.map { TextField.escape($0.displayName) } ?? TextField.none
                    Terminal.line(TextField.record([TextField.escape(result.resource), holder]))
                }
            }
            return ExitStatus.success
        }
    }
}
