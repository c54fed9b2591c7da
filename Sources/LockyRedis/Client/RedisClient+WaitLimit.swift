extension RedisClient {
    /// How long commands sent in the current task wait for their replies; see
    /// ``withReplyWaitLimit(_:_:)``.
    @TaskLocal static var replyWaitLimit: Duration?

    /// Runs `body`, in which commands (``execute(_:timeout:)``, scripts) wait at most `limit` for
    /// their replies, also in tasks that are already cancelled.
    ///
    /// A command that waited `limit` fails with `timeout` (``RedisClientError/mayHaveRun`` set),
    /// but unlike the command deadline this keeps the connection and the command's place in it:
    /// its reply is dropped when it comes, and whatever is sent next on this client reaches the
    /// server after it. The same holds for a wait for the connection being made (a stopped
    /// server): the command is sent first thing once it is up. That is what Redlock's per-node timeout needs: a slow node costs at most
    /// `limit`, and a release sent to it can never overtake the acquire it follows.
    public static func withReplyWaitLimit<T>(
        _ limit: Duration,
        _ body: () async throws -> T
    ) async rethrows -> T {
        try await $replyWaitLimit.withValue(limit) { try await body() }
    }
}
