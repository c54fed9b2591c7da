import LockyRESP
import NIOCore
import Synchronization

/// Commands of one caller (one command, a batch, or one client's share of a fan-out) that are
/// in line for the connection being made: the client sends them first thing once it is up, in
/// the order they came, or fails them when the attempt fails.
///
/// Their caller may stop waiting (``abandon()``: a cancelled task) and return at once; the
/// commands keep their place and are still sent, their replies dropped, as for a cancelled
/// reply wait. Holding the place is what keeps a release sent after that behind them.
final class RedisPendingSend: Sendable {
    typealias Results = [Result<RESPToken, RedisClientError>]

    let commands: [RESPCommand]
    /// The id of the first command; the others follow in order.
    let firstID: UInt64
    let timeout: TimeAmount?
    /// The wait limit for the replies, from when they are sent.
    let waitLimit: TimeAmount?
    let coalesce: Bool

    private struct State {
        var results: [Result<RESPToken, RedisClientError>?]
        var remaining: Int
        var onDone: (@Sendable (Results) -> Void)?
        /// Set once the results went to ``onDone``.
        var delivered = false
        /// Set once the commands were handed to a connection.
        var sent = false
    }

    private let state: Mutex<State>

    init(commands: [RESPCommand], firstID: UInt64, timeout: TimeAmount?, waitLimit: TimeAmount?, coalesce: Bool) {
        self.commands = commands
        self.firstID = firstID
        self.timeout = timeout
        self.waitLimit = waitLimit
        self.coalesce = coalesce
        state = Mutex(State(results: Array(repeating: nil, count: commands.count), remaining: commands.count))
    }

    /// Sends the commands on `handler`; on its event loop.
    func send(on handler: RedisChannelHandler) {
        state.withLock { $0.sent = true }
        for (index, command) in commands.enumerated() {
            handler.send(
                command, id: firstID + UInt64(index), to: .callback { self.complete(index, with: $0) }, timeout: timeout,
                waitLimit: waitLimit, coalesce: coalesce)
        }
    }

    /// Fails every command that has no result yet; for commands that were not sent.
    func fail(_ error: RedisClientError) {
        giveUp(with: error)
    }

    /// The caller stops waiting: every command without a result fails with `cancelled` now
    /// (``RedisClientError/mayHaveRun`` set: the command is in line and will still be sent).
    func abandon() {
        giveUp(with: RedisClientError(.cancelled, "the calling task was cancelled", mayHaveRun: true))
    }

    /// The caller stops waiting for a reason of its own (`error`, a wait limit): every command
    /// without a result fails with it; the commands keep their place.
    func giveUp(with error: RedisClientError) {
        for index in commands.indices { complete(index, with: .failure(error)) }
    }

    /// ``giveUp(with:)`` while the commands still wait for their connection; once sent, the
    /// reply wait limit is the connection's to enforce.
    func giveUpUnlessSent(with error: RedisClientError) {
        guard !state.withLock({ $0.sent }) else { return }
        giveUp(with: error)
    }

    /// Hands the results to `body` once every command has one (at once if they have).
    func whenDone(_ body: @escaping @Sendable (Results) -> Void) {
        let ready = state.withLock { state -> Results? in
            guard state.remaining == 0, !state.delivered else {
                state.onDone = body
                return nil
            }
            state.delivered = true
            return state.results.compactMap { $0 }
        }
        if let ready { body(ready) }
    }

    /// Command `index` is answered; the first answer counts.
    private func complete(_ index: Int, with result: Result<RESPToken, RedisClientError>) {
        let done = state.withLock { state -> (@Sendable (Results) -> Void, Results)? in
            guard state.results[index] == nil else { return nil }
            state.results[index] = result
            state.remaining -= 1
            guard state.remaining == 0, let onDone = state.onDone, !state.delivered else { return nil }
            state.delivered = true
            state.onDone = nil
            return (onDone, state.results.compactMap { $0 })
        }
        if let (onDone, results) = done { onDone(results) }
    }
}
