extension Duration {
    /// Whole milliseconds, rounded up so a positive duration never becomes 0.
    var millisecondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        let fromAttoseconds = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return seconds * 1000 + fromAttoseconds
    }

    /// This duration rounded up to whole milliseconds, as Redis keeps a TTL (`PX`).
    var roundedUpToMilliseconds: Duration {
        .milliseconds(millisecondsRoundedUp)
    }

    /// Seconds as a `Double`; any duration, also one whose whole seconds would not fit
    /// `components` (which traps there).
    var secondsDouble: Double {
        self / .seconds(1)
    }
}
