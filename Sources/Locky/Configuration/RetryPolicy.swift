/// How often and how fast an acquire is retried while the resource is busy.
///
/// The defaults are node-redlock's: 10 retries, 200 ms apart, ± up to 100 ms of random jitter
/// so that competing processes do not retry in lockstep.
public struct RetryPolicy: Sendable, Hashable {
    /// Retries after the first attempt; 0 tries once; a negative count retries without end.
    public var count: Int
    /// Delay between attempts.
    public var delay: Duration
    /// Random jitter added to or removed from each delay (uniform in `-jitter...jitter`).
    public var jitter: Duration

    /// Creates a policy.
    public init(count: Int = 10, delay: Duration = .milliseconds(200), jitter: Duration = .milliseconds(100)) {
        self.count = count
        self.delay = delay
        self.jitter = jitter
    }

    /// Try once, never retry.
    public static let never = RetryPolicy(count: 0, delay: .zero, jitter: .zero)

    /// Whether attempt number `attempt` (1 = the first retry) is allowed.
    func allowsRetry(_ attempt: Int) -> Bool {
        count < 0 || attempt <= count
    }

    /// The delay before the next attempt, with jitter, never negative.
    func nextDelay<R: RandomNumberGenerator>(using generator: inout R) -> Duration {
        let jitterNanoseconds = Int64(jitter.secondsDouble * 1e9)
        let offset = jitterNanoseconds > 0 ? Int64.random(in: -jitterNanoseconds...jitterNanoseconds, using: &generator) : 0
        return max(.zero, delay + .nanoseconds(offset))
    }
}
