extension Duration {
    /// The duration as the messages of errors write it: `250 µs`, `2 ms`, `1.5 s`, `2 h`,
    /// `31 days`, with at most three decimals (Swift's own description says `2678400.0 seconds`).
    var readable: String {
        let seconds = secondsDouble
        let magnitude = abs(seconds)
        let (value, unit): (Double, String) =
            switch magnitude {
            case ..<0.001: (seconds * 1_000_000, "µs")
            case ..<1: (seconds * 1000, "ms")
            case ..<3600: (seconds, "s")
            case ..<172_800: (seconds / 3600, "h")
            default: (seconds / 86_400, "days")
            }
        let thousandths = Int64((value * 1000).rounded())
        let magnitudeInThousandths = thousandths.magnitude
        var text = (thousandths < 0 ? "-" : "") + "\(magnitudeInThousandths / 1000)"
        if magnitudeInThousandths % 1000 != 0 {
            var fraction = String(magnitudeInThousandths % 1000)
            fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return "\(text) \(unit)"
    }
}
