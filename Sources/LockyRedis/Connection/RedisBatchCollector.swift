import LockyRESP

/// Collects the replies of one batch and hands them over together when the last one arrives.
///
/// Lives on the connection's event loop only (the channel handler owns every call).
final class RedisBatchCollector {
    private var results: [Result<RESPToken, RedisClientError>?]
    private var remaining: Int
    private var continuation: CheckedContinuation<[Result<RESPToken, RedisClientError>], Never>?

    init(count: Int, continuation: CheckedContinuation<[Result<RESPToken, RedisClientError>], Never>) {
        self.results = Array(repeating: nil, count: count)
        self.remaining = count
        self.continuation = continuation
        if count == 0 { finish() }
    }

    func complete(_ index: Int, with result: Result<RESPToken, RedisClientError>) {
        guard results[index] == nil else { return }
        results[index] = result
        remaining -= 1
        if remaining == 0 { finish() }
    }

    /// Fails every slot that has no result yet (the caller was cancelled or the connection died).
    func failRemaining(with error: RedisClientError) {
        for index in results.indices where results[index] == nil {
            complete(index, with: .failure(error))
        }
    }

    private func finish() {
        let collected = results.map { $0 ?? .failure(RedisClientError(.connectionLost, "no reply", mayHaveRun: true)) }
        continuation?.resume(returning: collected)
        continuation = nil
    }
}
