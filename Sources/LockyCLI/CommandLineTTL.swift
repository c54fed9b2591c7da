import Foundation

/// The shortest TTL `locky` takes (`--ttl` of `lock`, `refresh` and `run`, and LOCKY_CONFIG's
/// `ttl` and `lockerTTL` when those subcommands use them).
///
/// The library takes any lease TTL above its drift allowance (`ttl × driftFactor + 2 ms`, so
/// 3 ms by default), but a lease's validity is that TTL minus the allowance and minus the round
/// trip: a 3 ms lease is valid for about a millisecond, and `run` lost it before COMMAND had
/// started (exit 76). At 100 ms, 97 ms remain, and `run` renews every third of the TTL.
enum CommandLineTTL {
    /// 100 ms.
    static let minimum = Duration.milliseconds(100)

    /// The usage error for `ttl`, named `source` (`--ttl`, `LOCKY_CONFIG's ttl`), when it is
    /// shorter than ``minimum``; nil when it is long enough.
    static func problem(_ ttl: Duration, from source: String) -> String? {
        guard ttl < minimum else { return nil }
        let (seconds, attoseconds) = ttl.components
        let milliseconds = Double(seconds) * 1e3 + Double(attoseconds) / 1e15
        return "\(source) \(String(format: "%g", milliseconds))ms is too short: locky takes TTLs of at least "
            + "\(minimum.milliseconds)ms (a lease is valid for its TTL minus the clock-drift allowance, "
            + "ttl × driftFactor + 2 ms, minus the round trip, which would leave next to nothing)"
    }
}
