import ArgumentParser
import Locky

/// One lock event, as JSON.
struct EventLine: Encodable {
    var time: String
    var event: String
    var resource: String?
    var locker: String?
    var ttlMs: Int64?
    var message: String?
}

/// `locky watch`.
struct WatchSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Stream lock events (locked, unlocked, expired) until interrupted.",
        discussion: """
            Prints one line per event: `time<TAB>locked<TAB>resource<TAB>locker<TAB>ttl`, \
            `time<TAB>unlocked<TAB>resource`, `time<TAB>expired<TAB>resource`, and \
            `time<TAB>gap<TAB>message` when events may have been missed after a reconnect. Events come from Redis, so every \
            process's locks are seen. Stops on Ctrl-C (exit 0).

            Examples:
              locky watch
              locky watch --match 'article:*' --json | jq .
            """
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "Only resources matching this glob (article:*).")
    var match: String?

    func run() async throws {
        let (match, json) = (match, options.json)
        // No other process shares memory:// locks: the stream would stay empty until interrupted.
        _ = try options.redisConfiguration(for: "watch")
        try await withLockClient(options) { client in
            try await untilInterrupted {
                try await client.events(matching: match) { stream in
                    // Checked once subscribed: the subscriptions made the first connections.
                    if let redlock = client.backend as? RedlockBackend {
                        try await RedlockQuorumCheck.require(redlock, toDo: "watch lock events")
                    }
                    Terminal.error("locky: watching lock events\(match.map { " on \($0)" } ?? "") (Ctrl-C to stop)")
                    for await event in stream {
                        Self.print(event, json: json)
                        if Terminal.isOutputClosed { return }
                    }
                }
            }
            return ExitStatus.success
        }
    }

    private static func print(_ event: LockEvent, json: Bool) {
        let time = timestamp()
        let line: EventLine
        switch event {
        case .locked(let resource, let locker, let ttl):
            line = EventLine(time: time, event: "locked", resource: resource, locker: locker, ttlMs: ttl?.milliseconds)
        case .unlocked(let resource):
            line = EventLine(time: time, event: "unlocked", resource: resource)
        case .expired(let resource):
            line = EventLine(time: time, event: "expired", resource: resource)
        case .gap:
            line = EventLine(time: time, event: "gap", message: "events may have been missed (reconnected)")
        case .error(let error):
            if !json {
                // The message names the node and the cause; the full description repeats the
                // cause twice more (underlying error, per-node outcome) on one long line.
                Terminal.error("locky: \(error.code): \(error.message)")
                return
            }
            line = EventLine(time: time, event: "error", message: error.description)
        }
        if json {
            Terminal.json(line)
            return
        }
        var fields = [line.time, line.event]
        if let resource = line.resource { fields.append(TextField.escape(resource)) }
        if let locker = line.locker {
            fields.append(TextField.escape(locker))
            fields.append(formatDuration(line.ttlMs.map { .milliseconds($0) }))
        }
        if let message = line.message { fields.append(TextField.escape(message)) }
        Terminal.line(TextField.record(fields))
    }
}
