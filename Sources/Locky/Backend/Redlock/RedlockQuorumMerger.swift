/// What ``RedlockMergerBox`` shares between the nodes' handlers: pure state that passes an
/// item (an event, a wake-up) on once a quorum of nodes reported it.
protocol RedlockQuorumMerger: Sendable {
    /// What the nodes report.
    associatedtype Item: Sendable

    /// Creates a merger for `quorum` reports that collects the reports of one change for `window`.
    init(quorum: Int, window: Duration)

    /// Node `node` reported `item`, from an event with attempt tag `tag`, at `now`: returns
    /// what to pass on, if anything.
    mutating func receive(_ item: Item, tag: String, fromNode node: Int, at now: ContinuousClock.Instant) -> Item?
}

extension RedlockQuorumMerger {
    /// Creates a merger for `quorum` reports, collected for 2 s: reports of one change arrive
    /// within milliseconds of each other.
    init(quorum: Int) {
        self.init(quorum: quorum, window: .seconds(2))
    }
}
