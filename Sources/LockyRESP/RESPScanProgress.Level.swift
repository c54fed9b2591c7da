extension RESPScanProgress {
    /// One aggregate or attribute map being scanned.
    struct Level {
        /// Values (for a map or attribute: keys and values) still to scan in it.
        var remaining: Int
        /// The nesting depth of the values in it (those of a top-level aggregate are at depth 1).
        let depth: Int
        /// An attribute map annotates the value after it instead of being a value itself.
        let isAttribute: Bool
    }
}
