import NIOCore

extension EventLoop {
    /// Runs `work` now when already on this loop, else schedules it there.
    @inline(__always)
    func executeSoon(_ work: @escaping @Sendable () -> Void) {
        if inEventLoop {
            work()
        } else {
            execute(work)
        }
    }
}
