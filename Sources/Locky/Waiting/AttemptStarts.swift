import DequeModule

/// When a fair waiter's recent acquire attempts started, by attempt number (from 1).
///
/// A hand-off names the attempt that queued the waiter, and the lease's validity counts from
/// that attempt's start. An attempt that started more than a TTL ago can no longer give a valid
/// lease, so older entries are dropped: a waiter that waits for hours keeps a handful, not one
/// per refresh.
struct AttemptStarts {
    private var starts: Deque<ContinuousClock.Instant> = []
    /// The number of the oldest kept attempt.
    private var firstNumber = 1

    /// Records an attempt that starts at `start`, drops those that started before `cutoff`
    /// (never the newest), and returns the new attempt's number.
    mutating func record(_ start: ContinuousClock.Instant, keepingSince cutoff: ContinuousClock.Instant) -> Int {
        starts.append(start)
        while starts.count > 1, let oldest = starts.first, oldest < cutoff {
            starts.removeFirst()
            firstNumber += 1
        }
        return firstNumber + starts.count - 1
    }

    /// When attempt `number` started; nil when it was dropped or never made.
    subscript(number: Int) -> ContinuousClock.Instant? {
        let index = number - firstNumber
        return starts.indices.contains(index) ? starts[index] : nil
    }

    /// How many attempts are kept.
    var count: Int { starts.count }
}
