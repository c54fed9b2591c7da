/// Exponential backoff with jitter between connection attempts.
///
/// The first attempt after a connection is lost happens at once (a restarted server should be
/// found again immediately), unless the connection closed within 200 ms of its handshake (a
/// proxy in front of a dead server), which counts as a failed attempt; each further failed
/// attempt doubles the delay up to ``maximumDelay``.
public struct RedisReconnectPolicy: Sendable, Hashable {
    /// Delay after the first failed attempt.
    public var initialDelay: Duration
    /// Upper bound of the delay.
    public var maximumDelay: Duration
    /// Fraction of the delay that is randomized (0…1); spreads reconnecting clients apart.
    public var jitter: Double

    /// Creates a policy.
    public init(initialDelay: Duration = .milliseconds(25), maximumDelay: Duration = .seconds(2), jitter: Double = 0.5) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The delay before attempt number `failures + 1`, given `failures` consecutive failures.
    public func delay<R: RandomNumberGenerator>(afterFailures failures: Int, using generator: inout R) -> Duration {
        guard failures > 0 else { return .zero }
        let initial = initialDelay.seconds
        let maximum = maximumDelay.seconds
        let exponent = Double(min(failures - 1, 30))
        let base = min(maximum, initial * pow2(exponent))
        // Clamped again: the properties are public, and NaN or 1e10 s would trap below.
        let jitter = jitter.isNaN ? 0 : min(max(jitter, 0), 1)
        let randomized = base * (1 - jitter) + base * jitter * Double.random(in: 0...1, using: &generator)
        guard randomized.isFinite, randomized > 0 else { return .zero }
        return .nanoseconds(Int64(min(randomized, 9e9) * 1e9))
    }

    /// The delay before the next attempt, with the system's random number generator.
    public func delay(afterFailures failures: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(afterFailures: failures, using: &generator)
    }

    private func pow2(_ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= 2 }
        return result
    }
}
