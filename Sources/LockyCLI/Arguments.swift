import ArgumentParser
import LockyRedis

/// A duration argument: `500ms`, `30s`, `2m`; a bare number means milliseconds. Zero is a
/// duration too (`--wait 0` does not wait, as flock's `-w 0`); a TTL's minimum is checked by
/// ``validateAsTTL()``, which says why.
struct DurationArgument: ExpressibleByArgument, Sendable {
    /// The parsed duration.
    let duration: Duration

    init?(argument: String) {
        guard let duration = DurationParser.parse(argument), duration >= .zero else { return nil }
        self.duration = duration
    }

    static var defaultCompletionKind: CompletionKind { .default }

    /// Rejects a `--ttl` shorter than ``CommandLineTTL/minimum``.
    func validateAsTTL() throws {
        if let problem = CommandLineTTL.problem(duration, from: "--ttl") { throw ValidationError(problem) }
    }
}

/// Rejects empty resource names before anything is sent.
func validateResources(_ resources: [String]) throws {
    if resources.isEmpty { throw ValidationError("give at least one resource") }
    if let index = resources.firstIndex(where: \.isEmpty) {
        throw ValidationError("resource \(index + 1) is empty; resource names must not be empty")
    }
}

/// Rejects names (resources, lockers, labels) given as bytes that are not UTF-8: Swift reads
/// them with U+FFFD in place of those bytes, so the lock would be another name's (`a\xFFb` and
/// `a\xFEb` one lock). `commandCount` leaves `run`'s COMMAND out, which gets its bytes as they are.
func validateUTF8(_ names: [String?], commandCount: Int = 0) throws {
    let undecodable = CommandBytes.undecodableArguments(excludingLast: commandCount)
    guard !undecodable.isEmpty else { return }
    for case let name? in names
    where name.unicodeScalars.contains("\u{FFFD}") && undecodable.contains(where: { $0.contains(name) }) {
        throw ValidationError(
            "\(TextField.escape(name)) was given as bytes that are not UTF-8 (shown as \u{FFFD}); names are UTF-8 text")
    }
}
