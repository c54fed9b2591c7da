import DequeModule
import LockyRedis

/// Turns the messages of the event channel (and of keyspace `expired` notifications) into
/// lock events.
final class RedisEventSource: LockEventSource {
    private var iterator: RedisSubscription.AsyncIterator
    private var pending: Deque<LockEvent> = []
    private let keyspace: LockKeyspace
    private let expiredChannel: String?
    private let afterGap: (@Sendable () async -> LockError?)?

    /// - Parameter afterGap: Runs when a gap is seen (the server may have restarted and lost
    ///   its runtime configuration); an error it returns follows the gap.
    init(
        _ subscription: RedisSubscription,
        keyspace: LockKeyspace,
        expiredChannel: String?,
        afterGap: (@Sendable () async -> LockError?)? = nil
    ) {
        self.iterator = subscription.makeAsyncIterator()
        self.keyspace = keyspace
        self.expiredChannel = expiredChannel
        self.afterGap = afterGap
    }

    /// Delivers `event` before anything received.
    func prepend(_ event: LockEvent) {
        pending.prepend(event)
    }

    func next() async -> LockEvent? {
        while pending.isEmpty {
            guard let event = await iterator.next() else { return nil }
            switch event {
            case .gap:
                if let afterGap, let error = await afterGap() { pending.append(.error(error)) }
                return .gap
            case .message(let message):
                if let expiredChannel, message.channelName == expiredChannel {
                    if let resource = keyspace.resource(ofLockKey: message.payloadString) {
                        return .expired(resource: resource)
                    }
                } else {
                    pending.append(contentsOf: LockEventCodec.decode(message.payload, keyspace: keyspace).events)
                }
            }
        }
        return pending.popFirst()
    }
}
