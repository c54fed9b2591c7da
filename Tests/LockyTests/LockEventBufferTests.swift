import Testing

@testable import Locky

/// The bounded event buffer: a consumer that falls behind loses events, and is told so.
@Suite("Lock event buffer")
struct LockEventBufferTests {
    /// The resource of an `unlocked` event, `gap`, or `end` when the stream ended.
    static func name(_ event: LockEvent?) -> String {
        switch event {
        case .unlocked(let resource): resource
        case .gap: "gap"
        case nil: "end"
        default: "other"
        }
    }

    /// ``name(_:)`` of an event of the buffer's own stream (news for the watcher is `other`).
    static func name(_ event: BackendEvent?) -> String {
        switch event {
        case .lock(let event): name(event)
        case nil: "end"
        default: "other"
        }
    }

    @Test func droppedEventsAreFollowedByAGap() async {
        let buffer = LockEventBuffer(capacity: 2)
        buffer.yield(.unlocked(resource: "a"))
        buffer.yield(.unlocked(resource: "b"))
        // Full: these two are dropped.
        buffer.yield(.unlocked(resource: "c"))
        buffer.yield(.unlocked(resource: "d"))
        var iterator = buffer.eventStream.makeAsyncIterator()
        #expect(Self.name(await iterator.next()) == "a")
        #expect(Self.name(await iterator.next()) == "b")
        // Room again: the gap comes first, then the event, then no second gap.
        buffer.yield(.unlocked(resource: "e"))
        buffer.yield(.unlocked(resource: "f"))
        #expect(Self.name(await iterator.next()) == "gap")
        #expect(Self.name(await iterator.next()) == "e")
        // "f" did not fit behind the gap and "e": dropped, so another gap is owed.
        buffer.yield(.unlocked(resource: "g"))
        #expect(Self.name(await iterator.next()) == "gap")
        #expect(Self.name(await iterator.next()) == "g")
        buffer.finish()
        #expect(Self.name(await iterator.next()) == "end")
    }

    /// A stream that ends while its loop is behind still says that events were lost: after
    /// the last event it kept, a `gap`, then the end (the full buffer had no room for it).
    @Test func aStreamEndingWhileDroppingEndsWithAGap() async {
        let buffer = LockEventBuffer(capacity: 2)
        let stream = buffer.eventStream
        // Two loops at once: the first buffer and one of its own, both full at the end.
        var first = stream.makeAsyncIterator()
        var second = stream.makeAsyncIterator()
        for name in ["a", "b", "c"] { buffer.yield(.unlocked(resource: name)) }
        buffer.finish()
        for expected in ["a", "b", "gap", "end", "end"] {
            #expect(Self.name(await first.next()) == expected)
            #expect(Self.name(await second.next()) == expected)
        }
        // A loop after the end owes nothing.
        var late = stream.makeAsyncIterator()
        #expect(Self.name(await late.next()) == "end")
    }

    /// Loops one after the other share the first buffer (the next goes on where the last
    /// stopped); a loop started while another runs gets a buffer of its own, from its start
    /// on; once the buffer is finished, every loop ends, a new one at once.
    @Test func eachLoopRunningAtATimeHasABufferOfItsOwn() async {
        let buffer = LockEventBuffer()
        let stream = buffer.eventStream
        buffer.yield(.unlocked(resource: "a"))
        buffer.yield(.unlocked(resource: "b"))
        do {
            var first = stream.makeAsyncIterator()
            #expect(Self.name(await first.next()) == "a")
        }
        var second = stream.makeAsyncIterator()
        #expect(Self.name(await second.next()) == "b")
        var third = stream.makeAsyncIterator()
        buffer.yield(.unlocked(resource: "c"))
        #expect(Self.name(await second.next()) == "c")
        #expect(Self.name(await third.next()) == "c")
        buffer.finish()
        #expect(Self.name(await second.next()) == "end")
        #expect(Self.name(await third.next()) == "end")
        var late = stream.makeAsyncIterator()
        #expect(Self.name(await late.next()) == "end")
    }
}
