import ServiceLifecycle

extension LockClient: Service {
    /// Runs the client's background work, its one renewal loop, until the task is cancelled or a
    /// graceful shutdown begins. Run it in a `ServiceGroup`, in a task group, or use
    /// ``LockClient/withClient(configuration:logger:_:)``. Without it, `withLock` renews its
    /// lease in a loop of its own.
    ///
    /// - Throws: ``LockError`` `invalidArgument` at once while the client's loop already runs
    ///   (one per client); the running loop goes on.
    public func run() async throws {
        // On the backend's own thread (the Redis connection's event loop): the loop's timers
        // and renewals then do not wait for a busy shared pool.
        try await withTaskExecutorPreference(backend.preferredTaskExecutor) {
            try await cancelWhenGracefulShutdown {
                try await self.renewals.run()
            }
        }
        // Leases it was renewing lose their renewal: signal it (`withLock` cancels its body).
        renewals.stop()
    }
}
