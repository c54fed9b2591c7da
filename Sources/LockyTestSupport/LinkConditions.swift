/// The faults in force on one flow of every proxied connection.
struct LinkConditions: Sendable, Hashable {
    var latency: Duration = .zero
    var jitter: Duration = .zero
    /// nil: no bandwidth limit.
    var bytesPerSecond: Int?
    var blackhole = false
    var stalled = false

    /// Whether bytes may be held back (so they must queue behind earlier ones).
    var delaysDelivery: Bool { latency > .zero || jitter > .zero || bytesPerSecond != nil }

    /// Applies `fault` if it concerns `flow`.
    mutating func apply(_ fault: FaultProxy.Fault, to flow: ProxyFlow) {
        switch fault {
        case .latency(let delay, let jitter, let direction) where direction.includes(flow):
            latency = max(delay, .zero)
            self.jitter = max(jitter, .zero)
        case .bandwidth(let rate, let direction) where direction.includes(flow):
            bytesPerSecond = max(rate, 1)
        case .blackhole(let direction) where direction.includes(flow):
            blackhole = true
        case .stall(let direction) where direction.includes(flow):
            stalled = true
        default:
            break
        }
    }
}
