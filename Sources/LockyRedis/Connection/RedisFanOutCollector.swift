import LockyRESP
import Synchronization

/// Collects one reply from each of several connections (on different event loops) and hands
/// them over together when the last one arrives, or as soon as `enough` says the ones in are
/// enough: a fan-out with one suspension and no tasks. Replies that arrive after that go to
/// `late`, one by one, on their connection's event loop.
final class RedisFanOutCollector: Sendable {
    /// One slot per connection; nil until its reply arrives.
    typealias Results = [Result<RESPToken, RedisClientError>?]

    private struct State {
        var results: Results
        var remaining: Int
        var continuation: CheckedContinuation<Results, Never>?
    }

    private let state: Mutex<State>
    private let enough: (@Sendable (Results) -> Bool)?
    private let late: (@Sendable (Int, Result<RESPToken, RedisClientError>) -> Void)?

    init(
        count: Int,
        continuation: CheckedContinuation<Results, Never>,
        enough: (@Sendable (Results) -> Bool)? = nil,
        late: (@Sendable (Int, Result<RESPToken, RedisClientError>) -> Void)? = nil
    ) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count, continuation: continuation))
        self.enough = enough
        self.late = late
    }

    /// Slot `index` is answered; the first answer counts.
    func complete(_ index: Int, with result: Result<RESPToken, RedisClientError>) {
        let (finished, isLate) = state.withLock { state -> ((CheckedContinuation<Results, Never>, Results)?, Bool) in
            guard state.results[index] == nil else { return (nil, false) }
            state.results[index] = result
            state.remaining -= 1
            guard let continuation = state.continuation else { return (nil, true) }
            // Asked under the lock, so no reply slips in between the question and the hand-over.
            guard state.remaining == 0 || enough?(state.results) == true else { return (nil, false) }
            state.continuation = nil
            return ((continuation, state.results), false)
        }
        if let (continuation, collected) = finished { continuation.resume(returning: collected) }
        if isLate { late?(index, result) }
    }
}
