/// Where a ``LockEventStream`` gets its events from: one per iterator, used by one task.
protocol LockEventSource: AnyObject {
    func next() async -> BackendEvent?
}
