/// Parses human-written durations: `250us`, `500ms`, `1.5s`, `2m`, `1h`, `1d`; a bare number
/// means milliseconds.
///
/// The units are `ns`, `us` (or `µs`), `ms`, `s`, `m` (or `min`), `h` and `d` (24 hours), in any
/// case (`10S`, `5MS`, `1D`); a number and its unit are written without a space. A fraction is
/// allowed (`1.5s`, `.5h`); negative numbers, exponents and durations beyond about 285 years are not.
public enum DurationParser {
    /// The duration, or nil when the text is not a duration or is negative or out of range.
    public static func parse(_ text: some StringProtocol) -> Duration? {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { return nil }
        var numberEnd = trimmed.startIndex
        while numberEnd < trimmed.endIndex, trimmed[numberEnd].isNumber || trimmed[numberEnd] == "." {
            numberEnd = trimmed.index(after: numberEnd)
        }
        let numberText = trimmed[trimmed.startIndex..<numberEnd]
        let unit = trimmed[numberEnd...]
        guard !numberText.isEmpty, let value = Double(numberText), value.isFinite, value >= 0 else { return nil }
        let scale: Double
        // Any case: `10S` or `5MS` is no less clear than `10s`, and a config file or cron line
        // that a person typed should not fail on it. (`M` is minutes, as `m`: no unit is months.)
        switch unit.lowercased() {
        case "", "ms": scale = 1e-3
        // The micro sign (U+00B5) and the Greek mu (U+03BC) look alike; either may be typed.
        case "us", "µs", "\u{3BC}s": scale = 1e-6
        case "ns": scale = 1e-9
        case "s": scale = 1
        case "m", "min": scale = 60
        case "h": scale = 3600
        case "d": scale = 86_400
        default: return nil
        }
        let seconds = value * scale
        // Beyond ~292 years the nanosecond count overflows Int64; such a duration is a typo.
        guard seconds < 9e9 else { return nil }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: Substring {
        var text = self[...]
        while let first = text.first, first == " " { text = text.dropFirst() }
        while let last = text.last, last == " " { text = text.dropLast() }
        return Substring(text)
    }
}
