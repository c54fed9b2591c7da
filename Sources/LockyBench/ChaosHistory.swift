/// What the chaos workers recorded, parsed from their history files. One line per event, fields
/// separated by spaces, times in CLOCK_MONOTONIC nanoseconds (one clock for all processes):
///
/// - `A w t r token at validUntil`: task `t` of worker `w` holds resource `r` (body started)
/// - `V w t r token validUntil`: the lease was renewed
/// - `L w t r token at`: the lease's loss was signalled to the holder
/// - `WS w t r token at value`: a fenced write of `value` starts (after a token-checked read)
/// - `WE w t r token at accepted`: it ended, accepted (1) or rejected (0)
/// - `B w t r token at validUntil`: the body ended (written before the release)
/// - `E w t r token outcome`: `withLock` returned (`ok`) or threw (`lost`)
struct ChaosHistory {
    /// One holding of a resource: a lease from acquisition to the end of `withLock`.
    struct Holding {
        let worker: Int
        let resource: Int
        let token: Int64
        let acquiredAt: Int64
        /// The latest validity the holder knew of.
        var validUntil: Int64
        var lossSignalledAt: Int64?
        /// nil when the worker was killed before the body ended.
        var end: End?
        /// How `withLock` ended: nil when the worker was killed before it returned.
        var lost: Bool?

        struct End {
            let bodyEndedAt: Int64
            let validUntil: Int64
        }

        /// Until when this holder could act as the holder: its validity, cut short by the end
        /// of its body (the release follows).
        var validEnd: Int64 {
            guard let end else { return validUntil }
            return min(end.bodyEndedAt, end.validUntil)
        }
    }

    /// One fenced write.
    struct Write {
        let resource: Int
        let token: Int64
        let startedAt: Int64
        var endedAt: Int64?
        var accepted: Bool?
    }

    private(set) var holdings: [Holding] = []
    private(set) var writes: [Write] = []
    private var holdingIndex: [String: Int] = [:]
    private var writeIndex: [String: Int] = [:]
    /// Lines that did not parse (a worker killed mid-line leaves at most one per file).
    private(set) var malformed = 0

    /// Adds the lines of one worker's history.
    mutating func add(lines: some Sequence<Substring>) {
        for line in lines where !line.isEmpty {
            if !add(line: line) { malformed += 1 }
        }
    }

    private mutating func add(line: Substring) -> Bool {
        let fields = line.split(separator: " ")
        guard fields.count >= 5, let worker = Int(fields[1]), let task = Int(fields[2]), let resource = Int(fields[3]),
            let token = Int64(fields[4])
        else { return false }
        let numbers = fields.dropFirst(5).map { Int64($0) }
        let key = "\(worker) \(task) \(resource) \(token)"
        switch fields[0] {
        case "A":
            guard numbers.count == 2, let at = numbers[0], let valid = numbers[1] else { return false }
            holdingIndex[key] = holdings.count
            holdings.append(
                Holding(worker: worker, resource: resource, token: token, acquiredAt: at, validUntil: valid, end: nil))
        case "V":
            guard numbers.count == 1, let valid = numbers[0], let index = holdingIndex[key] else { return false }
            holdings[index].validUntil = max(holdings[index].validUntil, valid)
        case "L":
            guard numbers.count == 1, let at = numbers[0], let index = holdingIndex[key] else { return false }
            holdings[index].lossSignalledAt = holdings[index].lossSignalledAt ?? at
        case "WS":
            guard numbers.count == 2, let at = numbers[0] else { return false }
            writeIndex[key] = writes.count
            writes.append(Write(resource: resource, token: token, startedAt: at))
        case "WE":
            guard numbers.count == 2, let at = numbers[0], let accepted = numbers[1], let index = writeIndex[key] else {
                return false
            }
            writes[index].endedAt = at
            writes[index].accepted = accepted == 1
        case "B":
            guard numbers.count == 2, let at = numbers[0], let valid = numbers[1], let index = holdingIndex[key] else {
                return false
            }
            holdings[index].end = Holding.End(bodyEndedAt: at, validUntil: valid)
        case "E":
            guard fields.count == 6, let index = holdingIndex[key] else { return false }
            holdings[index].lost = fields[5] == "lost"
        default:
            return false
        }
        return true
    }
}
