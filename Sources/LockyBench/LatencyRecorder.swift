/// Collects latencies in nanoseconds and answers percentiles.
struct LatencyRecorder: Sendable {
    private(set) var samples: [Int64] = []

    init(capacity: Int = 0) {
        samples.reserveCapacity(capacity)
    }

    mutating func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        samples.append(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    mutating func merge(_ other: LatencyRecorder) {
        samples.append(contentsOf: other.samples)
    }

    var count: Int { samples.count }

    /// The `p`-th percentile (0…100) in microseconds.
    func percentileMicroseconds(_ p: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        let rank = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
        return Double(sorted[rank]) / 1000
    }
}
