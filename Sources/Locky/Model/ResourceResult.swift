/// One resource's result in a multi-resource call, in the order the resources were given.
public struct ResourceResult<Outcome: Sendable & Hashable>: Sendable, Hashable {
    /// The resource.
    public let resource: String
    /// What happened to it.
    public let outcome: Outcome

    /// Creates a result.
    public init(resource: String, outcome: Outcome) {
        self.resource = resource
        self.outcome = outcome
    }
}
