import Locky
import Testing

@testable import Locky

/// Loops over one ``LockEventStream`` one after the other, when the first is ended by
/// cancelling its task (a view that stops watching, and watches again when it comes back).
@Suite("Events review: loops after a cancelled one")
struct EventsReviewLoopTests {
    /// The first loop's task is cancelled; a loop started afterwards goes on where it stopped,
    /// as the stream promises. Before, cancelling the task terminated the first buffer's
    /// `AsyncStream` for good: the next loop ended at once (nil, as if the client had been
    /// closed), and every event after the cancellation was lost without a `gap`.
    @Test func aLoopAfterACancelledOneGoesOn() async {
        let buffer = LockEventBuffer()
        let stream = buffer.eventStream
        buffer.yield(.unlocked(resource: "a"))
        let first = await withTaskGroup(of: [String].self) { group in
            group.addTask {
                var seen: [String] = []
                for await event in stream { seen.append(LockEventBufferTests.name(event)) }
                return seen
            }
            group.cancelAll()
            return await group.next() ?? []
        }
        // Cancelled before or after it read "a": either is fine, the next loop goes on from there.
        #expect(first == [] || first == ["a"], "\(first)")
        buffer.yield(.unlocked(resource: "b"))
        var next = stream.makeAsyncIterator()
        var seen: [String] = []
        if first.isEmpty { seen.append(LockEventBufferTests.name(await next.next())) }
        seen.append(LockEventBufferTests.name(await next.next()))
        buffer.yield(.unlocked(resource: "c"))
        seen.append(LockEventBufferTests.name(await next.next()))
        #expect(seen == (first.isEmpty ? ["a", "b", "c"] : ["b", "c"]))
        buffer.finish()
        #expect(LockEventBufferTests.name(await next.next()) == "end")
    }

    /// The same through a client on Redis: a loop whose task was cancelled while it waited,
    /// then a new loop in the same `events` scope sees the next lock. Before, the new loop
    /// ended at once with no event.
    @Test(arguments: [BackendKind.redis, .memory])
    func aNewLoopInTheScopeSeesLaterEvents(kind: BackendKind) async throws {
        try await withBackend(kind, clock: .system) { env throws in
            let client = env.client
            let seen = try await client.events { stream in
                let waiting = Gate()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        waiting.open()
                        for await _ in stream {}
                    }
                    try await waiting.wait()
                    // Most likely waiting in `next()` by now; cancelled before it, it ends too.
                    try await Task.sleep(for: .milliseconds(50))
                    group.cancelAll()
                    try await group.waitForAll()
                }
                _ = try await client.lock("after", locker: "x")
                return try await within(.seconds(5), "the next loop's first event") {
                    var iterator = stream.makeAsyncIterator()
                    return await iterator.next().map(LockEventTests.describe) ?? "end"
                }
            }
            #expect(seen == "locked after by x")
        }
    }
}
