import Synchronization
import Testing

@testable import Locky

/// The bulk CSPRNG behind lease owners: every word handed out once, fresh words after a fork.
@Suite("SecureRandomPool")
struct SecureRandomPoolTests {
    @Test func wordsAreNeverHandedOutTwice() async {
        // Many refills' worth, from several tasks at once.
        let words = await withTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var words: [UInt64] = []
                    for _ in 0..<1000 {
                        let pair = SecureRandomPool.pair()
                        words += [pair.0, pair.1]
                    }
                    return words
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(words.count == 16_000)
        #expect(Set(words).count == words.count)
        // Each bit position is set in about half the words (a broken source, e.g. zeros or a
        // repeated block, fails this by far: the bound is 18 standard deviations wide).
        for bit in 0..<64 {
            let ones = words.count { $0 >> UInt64(bit) & 1 == 1 }
            #expect((7_000...9_000).contains(ones), "bit \(bit) set in \(ones) of 16000 words")
        }
    }

    #if os(Linux)
        @Test func aForkDiscardsTheUnusedWords() throws {
            var state = SecureRandomPool.State()
            let taken = (state.take(forks: 0), state.take(forks: 0))
            let first = try #require(taken.0)
            let second = try #require(taken.1)
            #expect(state.next == 4)
            let unused = Array(state.words[4...])
            #expect(first != second)
            // A new fork count: the words the parent may still hand out are thrown away.
            let takenAfterFork = state.take(forks: 1)
            let afterFork = try #require(takenAfterFork)
            #expect(state.next == 2)
            #expect(afterFork.0 != unused[0] && afterFork.1 != unused[1])
            #expect(Array(state.words[2...]) != Array(unused[..<(unused.count - 2)]))
            // Handed-out words do not stay in memory.
            #expect(state.words[0] == 0 && state.words[1] == 0)
        }
    #endif
}
