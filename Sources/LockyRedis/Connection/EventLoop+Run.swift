import NIOCore

extension EventLoop {
    /// Runs `work` right away when already on this loop (a task on the client's executor),
    /// else enqueues it there.
    @inline(__always)
    func run(_ work: @escaping @Sendable () -> Void) {
        if inEventLoop {
            work()
        } else {
            execute(work)
        }
    }
}
