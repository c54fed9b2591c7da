import Foundation
import Synchronization
import Testing

@testable import Locky

/// A loop over the events stream cancelled while events keep coming from another thread. The
/// buffer took its lock in the stream's `onTermination`, which runs inside the task
/// cancellation holding the task's status lock, while a `yield` under the buffer's lock was
/// resuming that same task and waiting for the status lock: both threads stopped for good
/// (seen in CI, in `RedlockLateNodeTests`, at `group.cancelAll()`).
@Suite(.serialized, .timeLimit(.minutes(2))) struct EventBufferCancelRaceTests {
    @Test func cancellingALoopWhileEventsArriveNeverDeadlocks() async throws {
        for round in 0..<300 {
            let buffer = LockEventBuffer()
            let stop = Atomic<Bool>(false)
            let producing = DispatchSemaphore(value: 0)
            // A thread of its own, as the connection's event loop is.
            Thread.detachNewThread {
                while !stop.load(ordering: .relaxed) { buffer.yield(.unlocked(resource: "r")) }
                producing.signal()
            }
            let loop = Task {
                var seen = 0
                for await _ in buffer.eventStream { seen += 1 }
                return seen
            }
            try await Task.sleep(for: .microseconds(Int64(50 + round % 7 * 30)))
            loop.cancel()
            _ = await loop.value
            // A new loop in the same scope goes on: events arrive again.
            var next = buffer.eventStream.makeAsyncIterator()
            #expect(await next.next() != nil, "round \(round)")
            stop.store(true, ordering: .relaxed)
            producing.wait()
            buffer.finish()
        }
    }
}
