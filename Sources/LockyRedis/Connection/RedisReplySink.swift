import LockyRESP
import NIOCore

/// Where a reply goes: an awaiting task, an event-loop promise (used while connecting), one
/// slot of a batch, one slot of a fan-out over several connections, or a callback on the
/// event loop (a follow-up sent from there, ``RedisClient/send(_:waitLimit:onReply:)``).
enum RedisReplySink {
    case continuation(CheckedContinuation<Result<RESPToken, RedisClientError>, Never>)
    case promise(EventLoopPromise<RESPToken>)
    case batch(RedisBatchCollector, index: Int)
    case fanOut(RedisFanOutCollector, index: Int)
    case callback(@Sendable (Result<RESPToken, RedisClientError>) -> Void)

    func complete(_ result: Result<RESPToken, RedisClientError>) {
        switch self {
        case .continuation(let continuation):
            continuation.resume(returning: result)
        case .promise(let promise):
            promise.completeWith(result.mapError { $0 as any Error })
        case .batch(let collector, let index):
            collector.complete(index, with: result)
        case .fanOut(let collector, let index):
            collector.complete(index, with: result)
        case .callback(let callback):
            callback(result)
        }
    }
}
