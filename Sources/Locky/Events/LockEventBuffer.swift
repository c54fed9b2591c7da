import Synchronization

/// Bounded buffers of lock events between whoever produces them and the loops over one
/// ``LockEventStream``. When a loop falls behind and events are dropped, the next event that
/// fits is preceded by ``LockEvent/gap``: a loss is never silent.
///
/// Every loop running at a time has a buffer of its own and sees every event: one shared
/// `AsyncStream` handed each event to whichever loop asked first, so two loops over one stream
/// (a UI and a log, say) each missed about half of them. The first buffer holds the events
/// since the buffer was made, for the first loop, and for a later loop once the one before it
/// ended (it goes on where that one stopped, also after a loop whose task was cancelled); a
/// loop started while another runs gets a new buffer, with the events from its start on.
final class LockEventBuffer: Sendable {
    /// Events held for a slow consumer before the buffer drops new ones.
    static let capacity = 65_536

    private struct Consumer {
        let continuation: AsyncStream<BackendEvent>.Continuation
        /// Set when the stream ends while its `gap` is still owed; read by its loop.
        let gapOwedAtEnd: GapOwedFlag
        /// Whether events were dropped since the last `gap` got through.
        var dropping = false

        /// Hands `event` on, or drops it (and later says so) when the buffer is full; false when
        /// the stream has ended (a loop over it was cancelled), with nothing handed on.
        mutating func yield(_ event: BackendEvent) -> Bool {
            if dropping {
                switch continuation.yield(.lock(.gap)) {
                case .enqueued: dropping = false
                case .dropped: return true
                case .terminated: return false
                @unknown default: return true
                }
            }
            switch continuation.yield(event) {
            case .dropped: dropping = true
            case .terminated: return false
            default: break
            }
            return true
        }

        /// Ends the stream. A full buffer has no room for the `gap` its drops owe, so the
        /// loop is told after the last buffered event instead (``StreamEventSource``).
        func finish() {
            if dropping { gapOwedAtEnd.set() }
            continuation.finish()
        }
    }

    private struct State {
        /// Every buffer being filled, by id; the first one's id is 0.
        var consumers: [UInt64: Consumer]
        /// The first buffer's streams, oldest first, that no loop reads: all of them while no
        /// loop reads the first buffer, else those after the one being read.
        var firstStreams: [AsyncStream<BackendEvent>]
        /// Whether a loop reads the first buffer.
        var firstInUse = false
        /// The generation of the first buffer's current stream (see ``cancelledFirst``).
        var firstGeneration: UInt64 = 1
        var nextID: UInt64 = 1
        var finished = false
    }

    private let firstGapOwed = GapOwedFlag()
    /// The generation of the first buffer's stream that a cancelled loop ended (0: none). Set
    /// from the stream's `onTermination`, which must not take ``state``: it runs inside the task
    /// cancellation, holding the task's status lock, while a `yield` under ``state`` may be
    /// resuming that same task and wait for that lock (a deadlock seen in CI).
    private let cancelledFirst = Atomic<UInt64>(0)
    private let capacity: Int
    private let state: Mutex<State>

    init(capacity: Int = LockEventBuffer.capacity) {
        let (stream, continuation) = AsyncStream.makeStream(of: BackendEvent.self, bufferingPolicy: .bufferingOldest(capacity))
        self.capacity = capacity
        self.state = Mutex(
            State(consumers: [0: Consumer(continuation: continuation, gapOwedAtEnd: firstGapOwed)], firstStreams: [stream]))
        noteWhenCancelled(continuation, generation: 1)
    }

    /// A loop whose task is cancelled ends its `AsyncStream` for good (it takes no more
    /// events): the first buffer then goes on in a new stream, which the next loop reads after
    /// what is left in the old one. Before, that loop ended at once, as if the stream had
    /// finished, and the events since were lost without a `gap`. Only noted here; the new
    /// stream is made under ``state`` by the next call that needs it (``replaceEndedFirst(_:force:)``).
    private func noteWhenCancelled(_ continuation: AsyncStream<BackendEvent>.Continuation, generation: UInt64) {
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.cancelledFirst.store(generation, ordering: .releasing) }
        }
    }

    /// Starts a new stream for the first buffer when a cancelled loop ended its current one,
    /// or (`force`) when a `yield` found it ended before that was noted.
    private func replaceEndedFirst(_ state: inout State, force: Bool = false) {
        guard force || cancelledFirst.load(ordering: .acquiring) == state.firstGeneration else { return }
        guard !state.finished, let old = state.consumers[0] else { return }
        let (stream, continuation) = AsyncStream.makeStream(of: BackendEvent.self, bufferingPolicy: .bufferingOldest(capacity))
        state.firstGeneration += 1
        noteWhenCancelled(continuation, generation: state.firstGeneration)
        var consumer = Consumer(continuation: continuation, gapOwedAtEnd: firstGapOwed)
        // Drops not told yet are told in the new stream.
        consumer.dropping = old.dropping
        state.consumers[0] = consumer
        state.firstStreams.append(stream)
    }

    /// Hands `event` to every buffer.
    func yield(_ event: LockEvent) {
        yield(.lock(event))
    }

    /// Hands `event` (news for the expiry watcher too) to every buffer.
    func yield(_ event: BackendEvent) {
        state.withLock { state in
            replaceEndedFirst(&state)
            for id in state.consumers.keys {
                // The first buffer's stream ended by a cancelled loop not yet noted: a new one.
                if state.consumers[id]?.yield(event) == false, id == 0 {
                    replaceEndedFirst(&state, force: true)
                    _ = state.consumers[0]?.yield(event)
                }
            }
        }
    }

    /// Ends every stream.
    func finish() {
        let consumers = state.withLock { state in
            state.finished = true
            return state.consumers.values
        }
        for consumer in consumers { consumer.finish() }
    }

    /// The stream as a ``LockEventStream``: each loop over it reads a buffer of its own.
    var eventStream: LockEventStream {
        LockEventStream { [self] in makeSource() }
    }

    /// The source of one loop: the first buffer when no loop reads it, else a new one that is
    /// dropped when the loop's iterator is.
    private func makeSource() -> any LockEventSource {
        let first = state.withLock { state -> AsyncStream<BackendEvent>? in
            replaceEndedFirst(&state)
            guard !state.firstInUse, !state.firstStreams.isEmpty else { return nil }
            state.firstInUse = true
            return state.firstStreams.removeFirst()
        }
        if let first {
            return StreamEventSource(
                first, gapOwedAtEnd: firstGapOwed,
                following: { [self] in
                    state.withLock { state in
                        replaceEndedFirst(&state)
                        return state.firstStreams.isEmpty ? nil : state.firstStreams.removeFirst()
                    }
                },
                onEnd: { [self] stream in
                    // Handed back when the loop ends: the next loop goes on from there.
                    state.withLock { state in
                        state.firstStreams.insert(stream, at: 0)
                        state.firstInUse = false
                    }
                })
        }
        let (stream, continuation) = AsyncStream.makeStream(of: BackendEvent.self, bufferingPolicy: .bufferingOldest(capacity))
        let gapOwed = GapOwedFlag()
        let id = state.withLock { state -> UInt64? in
            guard !state.finished else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.consumers[id] = Consumer(continuation: continuation, gapOwedAtEnd: gapOwed)
            return id
        }
        guard let id else {
            continuation.finish()
            return StreamEventSource(stream, gapOwedAtEnd: gapOwed, following: { nil }, onEnd: { _ in })
        }
        return StreamEventSource(
            stream, gapOwedAtEnd: gapOwed, following: { nil },
            onEnd: { [self] _ in
                state.withLock { _ = $0.consumers.removeValue(forKey: id) }
                continuation.finish()
            })
    }
}
