import Foundation
import Testing

@testable import LockyBench

/// The chaos checker finds each violation it counts (a checker that cannot fail proves nothing).
@Suite("Chaos checker")
struct ChaosCheckerTests {
    static func check(_ lines: [String], final: [Int: Int] = [:]) -> ChaosChecker.Verdict {
        var history = ChaosHistory()
        history.add(lines: lines.map { Substring($0) })
        return ChaosChecker.check(history, finalValues: final)
    }

    @Test func aCleanHistoryHasNoViolations() {
        let verdict = Self.check(
            [
                "A 1 0 0 1 100 1000", "WS 1 0 0 1 150 1", "WE 1 0 0 1 160 1", "B 1 0 0 1 200 1000", "E 1 0 0 1 ok",
                "A 2 0 0 2 300 1300", "WS 2 0 0 2 350 2", "WE 2 0 0 2 360 1", "B 2 0 0 2 400 1300", "E 2 0 0 2 ok",
            ], final: [0: 2])
        #expect(verdict.operations == 2)
        #expect(verdict.writesAccepted == 2)
        #expect(verdict.overlaps == 0)
        #expect(verdict.staleWritesAccepted == 0)
        #expect(verdict.lostUpdates == 0)
        #expect(verdict.unsignalledLosses == 0)
    }

    @Test func overlappingValidLeasesAreCounted() {
        // Holder 2 acquires while holder 1's lease is still valid and its body still runs.
        let verdict = Self.check([
            "A 1 0 0 1 100 1000", "A 2 0 0 2 300 1300", "B 1 0 0 1 500 1000", "E 1 0 0 1 ok",
        ])
        #expect(verdict.overlaps == 1)
        #expect(verdict.unsignalledLosses == 1, "holder 1 returned normally after holder 2 took over")
    }

    @Test func aKilledHolderIsValidUntilItsLastKnownValidity() {
        let overlapping = Self.check(["A 1 0 0 1 100 1000", "V 1 0 0 1 1500", "A 2 0 0 2 1200 2200"])
        #expect(overlapping.overlaps == 1)
        let after = Self.check(["A 1 0 0 1 100 1000", "A 2 0 0 2 1200 2200"])
        #expect(after.overlaps == 0)
    }

    @Test func aSignalledLossIsNotUnsignalled() {
        let verdict = Self.check([
            "A 1 0 0 1 100 1000", "L 1 0 0 1 900", "A 2 0 0 2 1100 2100", "B 1 0 0 1 1200 900", "E 1 0 0 1 lost",
        ])
        #expect(verdict.overlaps == 0)
        #expect(verdict.unsignalledLosses == 0)
        #expect(verdict.signalledLosses == 1)
    }

    @Test func staleAcceptedWritesAndLostUpdatesAreCounted() {
        let verdict = Self.check(
            [
                "WS 1 0 0 5 100 1", "WE 1 0 0 5 110 1",
                // Token 4 starts after token 5's write ended, and is accepted: stale.
                "WS 2 0 0 4 200 1", "WE 2 0 0 4 210 1",
            ], final: [0: 1])
        #expect(verdict.staleWritesAccepted == 1)
        #expect(verdict.lostUpdates == 1, "two accepted increments, one in the final value")
    }
}
