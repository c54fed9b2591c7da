import LockyRESP
import Synchronization

/// Collects one reply from each of several connections (on different event loops) and hands
/// them over together when the last one arrives: a fan-out with one suspension and no tasks.
final class RedisFanOutCollector: Sendable {
    private struct State {
        var results: [Result<RESPToken, RedisClientError>?]
        var remaining: Int
        var continuation: CheckedContinuation<[Result<RESPToken, RedisClientError>], Never>?
    }

    private let state: Mutex<State>

    init(count: Int, continuation: CheckedContinuation<[Result<RESPToken, RedisClientError>], Never>) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count, continuation: continuation))
    }

    /// Slot `index` is answered; the first answer counts.
    func complete(_ index: Int, with result: Result<RESPToken, RedisClientError>) {
        let finished = state.withLock {
            state -> (CheckedContinuation<[Result<RESPToken, RedisClientError>], Never>, [Result<RESPToken, RedisClientError>])?
            in
            guard state.results[index] == nil else { return nil }
            state.results[index] = result
            state.remaining -= 1
            guard state.remaining == 0, let continuation = state.continuation else { return nil }
            state.continuation = nil
            let collected = state.results.map { $0 ?? .failure(RedisClientError(.connectionLost, "no reply", mayHaveRun: true)) }
            return (continuation, collected)
        }
        if let (continuation, collected) = finished { continuation.resume(returning: collected) }
    }
}
