import DequeModule
import Synchronization

/// The local waiters of each resource, in arrival order. Only the head of a queue reacts to
/// wake-ups and timers, so a release wakes one task in this process, not all of them (no
/// thundering herd); when the head leaves, the next one is woken.
final class LocalWaitQueues: Sendable {
    private struct Waiter {
        let id: UInt64
        let signal: WakeSignal
    }

    private let queues = Mutex<[ExactName: Deque<Waiter>]>([:])

    /// Adds a waiter at the back of `resource`'s queue.
    func join(_ resource: String, id: UInt64, signal: WakeSignal) {
        queues.withLock { $0[ExactName(resource), default: []].append(Waiter(id: id, signal: signal)) }
    }

    /// Removes a waiter; when it was the head, wakes the new head.
    func leave(_ resource: String, id: UInt64) {
        let newHead = queues.withLock { queues -> WakeSignal? in
            guard var queue = queues[ExactName(resource)], let index = queue.firstIndex(where: { $0.id == id }) else {
                return nil
            }
            queue.remove(at: index)
            queues[ExactName(resource)] = queue.isEmpty ? nil : queue
            return index == 0 ? queue.first?.signal : nil
        }
        newHead?.fire()
    }

    /// Whether `id` is the head of `resource`'s queue.
    func isHead(_ resource: String, id: UInt64) -> Bool {
        queues.withLock { $0[ExactName(resource)]?.first?.id == id }
    }

    /// Whether `id` is queued on `resource` behind another waiter (so it must not act on wake-ups).
    func isWaitingBehind(_ resource: String, id: UInt64) -> Bool {
        queues.withLock { queues in
            guard let queue = queues[ExactName(resource)], let index = queue.firstIndex(where: { $0.id == id }) else {
                return false
            }
            return index > 0
        }
    }

    /// Whether `id` is queued behind another waiter on each of `resources` (so it must not act
    /// on a wake-up that may concern any of them, a gap).
    func isWaitingBehindOnAll(_ resources: [String], id: UInt64) -> Bool {
        queues.withLock { queues in
            resources.allSatisfy { resource in
                guard let queue = queues[ExactName(resource)], let index = queue.firstIndex(where: { $0.id == id }) else {
                    return false
                }
                return index > 0
            }
        }
    }
}
