extension FaultProxy {
    /// A network condition the proxy imposes on the bytes it forwards, until ``FaultProxy/heal()``.
    ///
    /// Setting a fault replaces the earlier value of the same kind in the directions it names and leaves the other
    /// kinds alone, so latency and a bandwidth limit combine.
    public enum Fault: Sendable, Hashable {
        /// Holds every chunk for `delay` plus a uniformly random extra of up to `jitter`; the configured delay is a
        /// lower bound. Chunks still leave in the order they came, so a later chunk never overtakes an earlier one.
        case latency(Duration, jitter: Duration = .zero, direction: Direction = .both)
        /// Paces the bytes to at most `bytesPerSecond` (at least 1), in slices of about 10 ms worth each.
        case bandwidth(bytesPerSecond: Int, direction: Direction = .both)
        /// Reads and silently discards the bytes, also those already held back by latency: they are lost for good,
        /// as if a firewall dropped them and nobody retransmitted.
        case blackhole(Direction = .both)
        /// Stops reading (bytes queue up in the kernel and TCP flow control pushes back on the sender) and delivers
        /// nothing already held; on ``FaultProxy/heal()`` everything flows again, nothing lost: a partition that
        /// TCP outlives.
        case stall(Direction = .both)
    }
}
