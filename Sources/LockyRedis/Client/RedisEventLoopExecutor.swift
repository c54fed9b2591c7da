import NIOCore

/// A task executor that runs jobs on a client's event loop.
///
/// A task that prefers it (`withTaskExecutorPreference(client.taskExecutor) { … }`) runs on
/// the same thread as the connection, so a command costs no thread switch at all: the lowest
/// latency one task can get. Keep such tasks short and non-blocking; they share the loop with I/O.
public final class RedisEventLoopExecutor: TaskExecutor, Sendable {
    /// The event loop jobs run on.
    public let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Runs the job on the event loop.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
