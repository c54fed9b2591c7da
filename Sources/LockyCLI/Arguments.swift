import ArgumentParser
import LockyRedis

/// A duration argument: `500ms`, `30s`, `2m`; a bare number means milliseconds.
struct DurationArgument: ExpressibleByArgument, Sendable {
    /// The parsed duration.
    let duration: Duration

    init?(argument: String) {
        guard let duration = DurationParser.parse(argument), duration > .zero else { return nil }
        self.duration = duration
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// Rejects empty resource names before anything is sent.
func validateResources(_ resources: [String]) throws {
    if resources.isEmpty { throw ValidationError("give at least one resource") }
    if let index = resources.firstIndex(where: \.isEmpty) {
        throw ValidationError("resource \(index + 1) is empty; resource names must not be empty")
    }
}
