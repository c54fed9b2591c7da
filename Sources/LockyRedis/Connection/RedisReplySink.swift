import LockyRESP
import NIOCore

/// Where a reply goes: an awaiting task, an event-loop promise (used while connecting), or one
/// slot of a batch.
enum RedisReplySink {
    case continuation(CheckedContinuation<Result<RESPToken, RedisClientError>, Never>)
    case promise(EventLoopPromise<RESPToken>)
    case batch(RedisBatchCollector, index: Int)

    func complete(_ result: Result<RESPToken, RedisClientError>) {
        switch self {
        case .continuation(let continuation):
            continuation.resume(returning: result)
        case .promise(let promise):
            promise.completeWith(result.mapError { $0 as any Error })
        case .batch(let collector, let index):
            collector.complete(index, with: result)
        }
    }
}
