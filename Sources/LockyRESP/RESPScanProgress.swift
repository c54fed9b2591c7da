/// How far the scan of a frame got: the offset of the next element and the aggregates it is inside of.
///
/// Kept by ``RESPTokenDecoder`` between reads, so that a large reply arriving in many pieces is scanned once rather
/// than from its first byte again on every piece (which made a multi-megabyte array cost seconds).
struct RESPScanProgress {
    /// Offset of the next element to scan, from the start of the frame; always an element boundary.
    var position = 0
    /// The aggregates and attribute maps entered and not yet finished, outermost first.
    var open: [Level] = []
    /// Whether the frame is a single element, so that an attribute map alone is complete without the value it
    /// annotates.
    let elementOnly: Bool

    /// A fresh scan of a whole value, or with `elementOnly` of one element.
    init(elementOnly: Bool = false) {
        self.elementOnly = elementOnly
    }

    /// Records a complete value (anything but an aggregate) ending at `end`, and leaves every aggregate it completes.
    /// - Returns: The end of the frame when that completes it.
    mutating func finishValue(end: Int) -> Int? {
        position = end
        guard !open.isEmpty else { return end }
        open[open.count - 1].remaining -= 1
        return closeFinished()
    }

    /// Enters an aggregate or attribute map whose first element starts at `next` (an empty one is left at once).
    /// - Returns: The end of the frame when that completes it.
    mutating func enter(_ level: Level, next: Int) -> Int? {
        position = next
        open.append(level)
        return closeFinished()
    }

    /// Leaves every finished aggregate; a finished attribute map is not a value, so it does not count in its parent.
    private mutating func closeFinished() -> Int? {
        while let last = open.last, last.remaining == 0 {
            open.removeLast()
            if open.isEmpty {
                if !last.isAttribute || elementOnly { return position }
            } else if !last.isAttribute {
                open[open.count - 1].remaining -= 1
            }
        }
        return nil
    }
}
