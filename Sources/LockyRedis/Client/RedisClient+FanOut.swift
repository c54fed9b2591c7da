import LockyRESP
import NIOCore
import Synchronization

extension RedisClient {
    /// Sends `command` on every client at once and returns one result per client, in order:
    /// a fan-out over independent servers (Redlock) with one suspension (child tasks only to
    /// connect clients that are not connected yet).
    ///
    /// Each command behaves as with ``execute(_:timeout:)``: the reply wait limit
    /// (``withReplyWaitLimit(_:_:)``) applies to each, cancellation abandons the waits (never
    /// the replies' order), and a task that is already cancelled still sends.
    ///
    /// `replyWait`, when given, replaces the reply wait limit for the replies (not for
    /// connecting): `.zero` sends the command in its place on each connection without waiting
    /// for its reply (a Redlock give-back to a node that did not answer the call before it).
    ///
    /// As with ``execute(_:timeout:)``, a client whose connection closed before the command was
    /// written to it (a kill or restart noticed between picking the connection and sending) gets
    /// the command once more on a new connection; one that may have reached its server is never
    /// sent twice.
    public static func execute(
        _ command: RESPCommand, on clients: [RedisClient], replyWait: Duration? = nil
    ) async -> [Result<RESPToken, RedisClientError>] {
        // Without `enough`, every slot is answered (by its reply, failure or timeout).
        await execute(command, on: clients, replyWait: replyWait, until: nil, late: nil).map {
            $0 ?? .failure(RedisClientError(.connectionLost, "no reply", mayHaveRun: true))
        }
    }

    /// ``execute(_:on:replyWait:)`` that may return before every reply is in: after each reply,
    /// `enough` is asked with the replies so far (nil where none came yet), and once it answers
    /// true the call returns them. Each reply that comes after that is handed to `late` with its
    /// client's index, on that client's event loop; its wait limit still applies, so every
    /// client is heard from, if only by its timeout. Redlock: a quorum decides, so the slowest
    /// nodes are not waited for (their commands are on their way, in order on each connection).
    ///
    /// A command that was never written goes once more on a new connection, as with
    /// ``execute(_:on:replyWait:)``, when the replies of the first round were not enough.
    public static func execute(
        _ command: RESPCommand,
        on clients: [RedisClient],
        replyWait: Duration? = nil,
        until enough: (@Sendable ([Result<RESPToken, RedisClientError>?]) -> Bool)?,
        late: (@Sendable (Int, Result<RESPToken, RedisClientError>) -> Void)?
    ) async -> [Result<RESPToken, RedisClientError>?] {
        var results = await sendOnce(command, on: clients, replyWait: replyWait, enough: enough, late: late)
        if let enough, enough(results) { return results }
        // Nothing was written to these: the owner dropped the dead connection before telling
        // anyone, so the second round dials a new one (the single-command rule, per client).
        let unsent = results.indices.filter { results[$0].map(RedisChannelHandler.wasLostUnsent) ?? false }
        guard !unsent.isEmpty else { return results }
        let first = results
        // The second round's replies, asked about and handed on in the places of the first.
        var mergedEnough: (@Sendable ([Result<RESPToken, RedisClientError>?]) -> Bool)?
        if let enough {
            mergedEnough = { partial in
                var merged = first
                for (position, index) in unsent.enumerated() { merged[index] = partial[position] }
                return enough(merged)
            }
        }
        var mergedLate: (@Sendable (Int, Result<RESPToken, RedisClientError>) -> Void)?
        if let late { mergedLate = { position, result in late(unsent[position], result) } }
        let resent = await sendOnce(
            command, on: unsent.map { clients[$0] }, replyWait: replyWait, enough: mergedEnough, late: mergedLate)
        for (position, index) in unsent.enumerated() { results[index] = resent[position] }
        return results
    }

    /// Sends `command` on the current connection without suspending, and hands its reply (or
    /// its failure: not connected, no reply within `waitLimit`, connection lost) to `onReply`,
    /// on the event loop. For a follow-up decided on the event loop as a reply is read (the
    /// `late` handler of ``execute(_:on:replyWait:until:late:)``), where there is no task to
    /// await it: it needs none, the reply comes to the callback as `late` replies do. Queued on
    /// the connection behind every command sent before it; never sent twice.
    public nonisolated func send(
        _ command: RESPCommand, waitLimit: Duration?, onReply: @escaping @Sendable (Result<RESPToken, RedisClientError>) -> Void
    ) {
        guard let handler = liveHandlerIfConnected else {
            onReply(.failure(RedisClientError(.unavailable, "not connected")))
            return
        }
        let id = requestIDs.add(1, ordering: .relaxed).newValue
        let limit = waitLimit.map(TimeAmount.init)
        eventLoop.run { handler.value.send(command, id: id, to: .callback(onReply), waitLimit: limit) }
    }

    /// One round of ``execute(_:on:replyWait:until:late:)``: each client's current connection,
    /// or a place in line for the one it is making (dialled first where there is none), no resend.
    private static func sendOnce(
        _ command: RESPCommand,
        on clients: [RedisClient],
        replyWait: Duration?,
        enough: (@Sendable ([Result<RESPToken, RedisClientError>?]) -> Bool)?,
        late: (@Sendable (Int, Result<RESPToken, RedisClientError>) -> Void)?
    ) async -> [Result<RESPToken, RedisClientError>?] {
        guard !clients.isEmpty else { return [] }
        // Taken now: a task cancelled while the nodes connect must not count as one that came
        // cancelled (and so wait for every connection).
        let cancelledAtStart = Task.isCancelled
        let handlers = clients.map(\.liveHandlerIfConnected)
        let ids = clients.map { $0.requestIDs.add(1, ordering: .relaxed).newValue }
        let waitLimit = (replyWait ?? replyWaitLimit).map(TimeAmount.init)
        var pendings: [Int: RedisPendingSend] = [:]
        var failures: [Int: RedisClientError] = [:]
        let unconnected = handlers.indices.filter { handlers[$0] == nil }
        if !unconnected.isEmpty {
            // Side by side: each gets its place in line for its connection (only a reconnect
            // backoff is waited for here, not the connections; their replies come as the others do).
            await withTaskGroup(of: (Int, RedisPendingSend, RedisClientError?).self) { group in
                for index in unconnected {
                    let client = clients[index]
                    let pending = RedisPendingSend(
                        commands: [command], firstID: ids[index], timeout: nil, waitLimit: waitLimit, coalesce: false)
                    group.addTask {
                        do throws(RedisClientError) {
                            try await client.enqueue(pending, cancelledAtStart: cancelledAtStart)
                            return (index, pending, nil)
                        } catch {
                            return (index, pending, error)
                        }
                    }
                }
                for await (index, pending, error) in group {
                    if let error { failures[index] = error } else { pendings[index] = pending }
                }
            }
        }
        let queued = pendings
        let failed = failures
        let send: @Sendable () async -> [Result<RESPToken, RedisClientError>?] = {
            await withCheckedContinuation { continuation in
                let collector = RedisFanOutCollector(
                    count: clients.count, continuation: continuation, enough: enough, late: late)
                for (index, client) in clients.enumerated() {
                    if let handler = handlers[index] {
                        let id = ids[index]
                        client.eventLoop.run {
                            handler.value.send(command, id: id, to: .fanOut(collector, index: index), waitLimit: waitLimit)
                        }
                    } else if let pending = queued[index] {
                        // Its wait limit (`.zero`: in its place, not waited for) was armed in line.
                        pending.whenDone { collector.complete(index, with: $0[0]) }
                    } else {
                        collector.complete(
                            index, with: .failure(failed[index] ?? RedisClientError(.unavailable, "not connected")))
                    }
                }
            }
        }
        if cancelledAtStart { return await send() }
        return await withTaskCancellationHandler {
            await send()
        } onCancel: {
            for (index, client) in clients.enumerated() {
                if let handler = handlers[index] {
                    let id = ids[index]
                    client.eventLoop.execute { handler.value.cancel(id) }
                } else {
                    queued[index]?.abandon()
                }
            }
        }
    }
}
