/// Reads a chaos run's history afterwards and counts violations of Locky's promises. Pure.
struct ChaosChecker {
    /// What the checker found.
    struct Verdict {
        /// Holdings (acquisitions that reached their body).
        var operations = 0
        var writesAccepted = 0
        var writesRejected = 0
        /// Writes whose outcome was never recorded (the worker was killed or the body cancelled).
        var writesUnknown = 0
        /// Two holders whose valid leases overlapped in time on the same resource.
        var overlaps = 0
        /// An accepted write whose token is lower than a write accepted before it began.
        var staleWritesAccepted = 0
        /// Accepted read-modify-writes missing from the final value.
        var lostUpdates = 0
        /// More increments in the final value than writes that may have been applied.
        var phantomUpdates = 0
        /// A holder that was not told its lease was lost: its `withLock` returned normally although
        /// another holder took the resource before its body ended.
        var unsignalledLosses = 0
        /// Losses the holders were told about.
        var signalledLosses = 0
    }

    /// Checks `history` against the final value of each resource's store (`finalValues[r]`).
    static func check(_ history: ChaosHistory, finalValues: [Int: Int]) -> Verdict {
        var verdict = Verdict()
        verdict.operations = history.holdings.count
        let byResource = Dictionary(grouping: history.holdings, by: \.resource)
        for (_, holdings) in byResource {
            let sorted = holdings.sorted { $0.acquiredAt < $1.acquiredAt }
            // Overlaps: an acquisition before the end of an earlier holder's validity.
            var latestEnd = Int64.min
            for holding in sorted {
                // A holder paused between its last validity check and its record held nothing valid.
                if holding.validEnd <= holding.acquiredAt { continue }
                if holding.acquiredAt < latestEnd { verdict.overlaps += 1 }
                latestEnd = max(latestEnd, holding.validEnd)
            }
            // Unsignalled losses: a body that ended normally after another holder acquired.
            for (index, holding) in sorted.enumerated() {
                guard let end = holding.end, let lost = holding.lost else { continue }
                if lost || holding.lossSignalledAt != nil {
                    verdict.signalledLosses += 1
                    continue
                }
                // Sorted by acquisition: the next holder is the first that could have taken over.
                let superseded = index + 1 < sorted.count && sorted[index + 1].acquiredAt < end.bodyEndedAt
                if superseded || end.bodyEndedAt > end.validUntil { verdict.unsignalledLosses += 1 }
            }
        }
        let writesByResource = Dictionary(grouping: history.writes, by: \.resource)
        let resources = Set(writesByResource.keys).union(finalValues.keys)
        for resource in resources {
            let writes = writesByResource[resource] ?? []
            let accepted = writes.filter { $0.accepted == true }
            verdict.writesAccepted += accepted.count
            verdict.writesRejected += writes.filter { $0.accepted == false }.count
            let unknown = writes.filter { $0.accepted == nil }.count
            verdict.writesUnknown += unknown
            // Stale writes: sweep writes by start, knowing the highest token of those already ended.
            let byEnd = accepted.compactMap { write in write.endedAt.map { (end: $0, token: write.token) } }.sorted {
                $0.end < $1.end
            }
            var next = 0
            var highestEnded = Int64.min
            for write in accepted.sorted(by: { $0.startedAt < $1.startedAt }) {
                while next < byEnd.count, byEnd[next].end < write.startedAt {
                    highestEnded = max(highestEnded, byEnd[next].token)
                    next += 1
                }
                if write.token < highestEnded { verdict.staleWritesAccepted += 1 }
            }
            let final = finalValues[resource] ?? 0
            verdict.lostUpdates += max(0, accepted.count - final)
            verdict.phantomUpdates += max(0, final - accepted.count - unknown)
        }
        return verdict
    }
}
