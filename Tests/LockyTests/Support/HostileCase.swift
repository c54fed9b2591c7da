import Locky

/// One hostile call of ``HostileInputTests``: an API, the argument that makes it hostile, and
/// what must happen.
struct HostileCase: Sendable {
    /// What the call must do.
    enum Expectation: Sendable {
        /// Rejected with `invalidArgument` before anything is sent.
        case rejected
        /// Fails with this code, changing nothing.
        case fails(LockError.Code)
        /// Succeeds (the argument is legitimate); it may change only ``HostileCase/touches``.
        case succeeds
    }

    /// What the call gets: the client, and a lease on `held` that must survive every case.
    struct Fixture: Sendable {
        let client: LockClient
        let lease: Lease
    }

    let api: String
    let argument: String
    let expectation: Expectation
    /// Keys (and keys starting with them) that a successful call may change.
    var touches: [String] = []
    /// Whether the Redlock backend runs it too (it has no fair queue, and answers a fenced write
    /// over a held lock's key otherwise); Redis and memory run every case.
    var onRedlock = true
    let call: @Sendable (Fixture) async throws -> Void

    var name: String { "\(api) with \(argument)" }
}
