import ServiceLifecycle

extension LockClient: Service {
    /// Runs the client's background work, its one renewal loop, until the task is cancelled or a
    /// graceful shutdown begins. Run it in a `ServiceGroup`, in a task group, or use
    /// ``LockClient/withClient(configuration:logger:_:)``. Without it, `withLock` renews its
    /// lease in a loop of its own.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.renewals.run()
        }
    }
}
