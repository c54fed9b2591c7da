import Testing

@testable import Locky

/// A fair waiter's attempt log: numbered from 1, and bounded by the TTL however long it waits.
@Suite("AttemptStarts")
struct AttemptStartsTests {
    @Test func numbersAttemptsAndForgetsThoseOlderThanTheCutoff() {
        let zero = ContinuousClock.now
        var starts = AttemptStarts()
        let ttl = Duration.seconds(2)
        // A day of refreshes every 667 ms.
        var last = 0
        for step in 0..<130_000 {
            let start = zero + .milliseconds(667 * step)
            last = starts.record(start, keepingSince: start - ttl)
            #expect(last == step + 1)
            if step > 10 { #expect(starts.count <= 5, "\(starts.count) attempts kept") }
        }
        let newest = zero + .milliseconds(667 * 129_999)
        #expect(starts[last] == newest)
        #expect(starts[last - 1] == newest - .milliseconds(667))
        #expect(starts[1] == nil)
        #expect(starts[last + 1] == nil)
        #expect(starts[0] == nil)
    }

    @Test func keepsTheNewestEvenWhenItIsOlderThanTheCutoff() {
        let zero = ContinuousClock.now
        var starts = AttemptStarts()
        #expect(starts.record(zero, keepingSince: zero + .seconds(10)) == 1)
        #expect(starts.record(zero + .seconds(1), keepingSince: zero + .seconds(10)) == 2)
        #expect(starts.count == 1)
        #expect(starts[2] == zero + .seconds(1))
        #expect(starts[1] == nil)
    }
}
