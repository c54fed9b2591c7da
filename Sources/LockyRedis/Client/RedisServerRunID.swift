import LockyRESP

/// The `run_id` a server reports in `INFO server`: 40 hex digits, random per server process.
/// Two addresses whose connections report one `run_id` reach one server process, however they
/// are spelled (`127.1`, `0.0.0.0`, another host name, a port forward). Pure, no I/O.
enum RedisServerRunID {
    /// `INFO server`, the section that holds `run_id`.
    static var command: RESPCommand { RESPCommand("INFO", "server") }

    /// The `run_id` in an `INFO` reply (a bulk string in RESP2, a verbatim string in RESP3);
    /// nil when there is none.
    static func parse(_ reply: RESPToken) -> String? {
        guard let text = try? String(fromRESP: reply) else { return nil }
        return parse(text)
    }

    /// The `run_id:` line's value in INFO text.
    static func parse(_ text: String) -> String? {
        // `\r\n` is one Character, a newline: no `\r` is left on the line.
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("run_id:") {
            let value = line.dropFirst("run_id:".count).filter { $0 != " " }
            return value.isEmpty ? nil : value
        }
        return nil
    }
}
