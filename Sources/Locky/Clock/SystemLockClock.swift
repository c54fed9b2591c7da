import NIOCore
import NIOPosix

/// The real monotonic clock (`ContinuousClock`).
public struct SystemLockClock: LockClock {
    /// Creates the clock.
    public init() {}

    /// `ContinuousClock.now`.
    public var now: ContinuousClock.Instant { ContinuousClock.now }

    /// Sleeps on `ContinuousClock`; a deadline more than ~68 years away is brought that close.
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        // ContinuousClock traps on an instant whose seconds overflow Int64 (a wait with a
        // timeout of `.seconds(Int64.max)`); nobody waits long enough to tell the difference.
        let latest = ContinuousClock.now + .seconds(Int64(Int32.max))
        try await ContinuousClock().sleep(until: min(deadline, latest), tolerance: nil)
    }
}

extension SystemLockClock: LockTimerSource {
    /// Arms an NIO timer: on the current event loop when called on one (a wait on a Redis
    /// client's loop, where the wake-up arrives too, so cancelling costs no thread switch),
    /// else on NIO's shared group.
    func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> LockTimer {
        let delay = deadline - ContinuousClock.now
        // Far deadlines (a timeout of `.seconds(Int64.max)`) are brought within ~68 years.
        let nanoseconds =
            delay <= .zero
            ? 0 : min(delay.components.seconds, Int64(Int32.max)) * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
        let scheduled = loop.scheduleTask(in: .nanoseconds(nanoseconds), action)
        return LockTimer { scheduled.cancel() }
    }
}
