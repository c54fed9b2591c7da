/// How far the scan of a frame got: the offset of the next element and the aggregates it is inside of.
///
/// Kept by ``RESPTokenDecoder`` between reads, so that a large reply arriving in many pieces is scanned once rather
/// than from its first byte again on every piece (which made a multi-megabyte array cost seconds).
struct RESPScanProgress {
    /// Offset of the next element to scan, from the start of the frame; always an element boundary.
    var position = 0
    /// The innermost aggregate or attribute map being scanned; nil at the top of the frame. Kept apart from
    /// ``outer`` so that a flat reply never touches an array.
    private(set) var current: Level?
    /// The aggregates enclosing ``current``, outermost first.
    private var outer: [Level] = []
    /// Whether the frame is a single element, so that an attribute map alone is complete without the value it
    /// annotates.
    let elementOnly: Bool

    /// A fresh scan of a whole value, or with `elementOnly` of one element.
    init(elementOnly: Bool = false) {
        self.elementOnly = elementOnly
    }

    /// Back to the start of a frame, keeping the stack's storage for the next one.
    mutating func reset() {
        position = 0
        current = nil
        outer.removeAll(keepingCapacity: true)
    }

    /// The nesting depth of the next value (0 at the top of the frame).
    var depth: Int { current?.depth ?? 0 }

    /// Records a complete value (anything but an aggregate) ending at `end`, and leaves every aggregate it completes.
    /// - Returns: The end of the frame when that completes it.
    mutating func finishValue(end: Int) -> Int? {
        position = end
        guard current != nil else { return end }
        current?.remaining -= 1
        return closeFinished()
    }

    /// Enters an aggregate or attribute map whose first element starts at `next` (an empty one is left at once).
    /// - Returns: The end of the frame when that completes it.
    mutating func enter(_ level: Level, next: Int) -> Int? {
        position = next
        if let current { outer.append(current) }
        current = level
        return closeFinished()
    }

    /// Leaves every finished aggregate; a finished attribute map is not a value, so it does not count in its parent.
    private mutating func closeFinished() -> Int? {
        while let finished = current, finished.remaining == 0 {
            current = outer.popLast()
            if current == nil {
                if !finished.isAttribute || elementOnly { return position }
            } else if !finished.isAttribute {
                current?.remaining -= 1
            }
        }
        return nil
    }
}
