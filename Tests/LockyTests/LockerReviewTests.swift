import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import NIOCore
import Testing

/// The locker API, the lease API and the fencing helper run the same random operation
/// sequences on every backend, which must answer alike (seeded, so a failure reproduces).
@Suite("Locker review: memory, Redis and Redlock answer alike")
struct LockerReviewTests {
    /// Resources, lockers and fenced keys the sequences draw from: few, so they collide often.
    private static let resources = ["r0", "r1", "r2", "{t}r3"]
    private static let lockers = ["L0", "L1", "L2"]
    private static let keys = ["f0", "f1"]

    @Test(arguments: Array(UInt64(1)...8))
    func randomSequencesAnswerAlikeOnEveryBackend(seed: UInt64) async throws {
        try await withBackend(.memory) { memory in
            try await withBackend(.redis) { redis in
                // Redlock with a generous node timeout: thousands of calls on a loaded machine.
                try await RedlockFaultTests.withNodes(3) { servers in
                    var clients: [[LockClient]] = []
                    for env in [memory, redis] {
                        clients.append([env.client, try env.makeClient(LockyConfiguration(lockerTTL: .seconds(600)))])
                    }
                    var redlock = try RedlockFaultTests.configuration(servers, nodeTimeout: .seconds(5))
                    let plain = try LockClient(configuration: redlock)
                    redlock.lockerTTL = .seconds(600)
                    let expiring = try LockClient(configuration: redlock)
                    clients.append([plain, expiring])
                    try await Self.run(seed: seed, steps: 250, kinds: [.memory, .redis, .redlock], clients: clients)
                    await plain.close()
                    await expiring.close()
                }
            }
        }
    }

    /// Runs `steps` random operations with each backend's clients (two per backend: locker
    /// locks without expiry, the default, and with a TTL) and compares the answers.
    private static func run(seed: UInt64, steps: Int, kinds: [BackendKind], clients: [[LockClient]]) async throws {
        var random = SplitMix64(seed: seed)
        // Leases per backend, by sequence number; their owners read back as `lease#n`.
        var leases: [[Int: Lease]] = Array(repeating: [:], count: kinds.count)
        var nextLease = 0
        // Tokens handed out per resource, per backend: each must be above the last.
        var lastToken: [[String: Int64]] = Array(repeating: [:], count: kinds.count)
        for step in 0..<steps {
            let op = Int.random(in: 0..<10, using: &random)
            let subset = pick(resources, &random)
            let locker = lockers.randomElement(using: &random) ?? "L0"
            let checked = Bool.random(using: &random)
            let clientIndex = Int.random(in: 0..<2, using: &random)
            let key = keys.randomElement(using: &random) ?? "f0"
            let token = Int64.random(in: 0..<12, using: &random)
            let value = "v\(Int.random(in: 0..<1000, using: &random))"
            let leaseID = nextLease
            let release = leases[0].keys.sorted().randomElement(using: &random)
            let force = Bool.random(using: &random)
            if op == 7 { nextLease += 1 }
            var answers: [String] = []
            for (index, kind) in kinds.enumerated() {
                let client = clients[index][clientIndex]
                let answer = await Self.attempt { () async throws -> String in
                    switch op {
                    case 0, 1:
                        let results = try await client.lock(subset, locker: locker, force: op == 1 && force)
                        for result in results {
                            if case .acquired(let token) = result.outcome {
                                let last = lastToken[index][result.resource] ?? 0
                                #expect(token > last, "\(kind) step \(step): token \(token) after \(last)")
                                lastToken[index][result.resource] = token
                            }
                        }
                        return "lock "
                            + results.map { "\($0.resource)=\(describe($0.outcome, leases[index]))" }.joined(separator: ",")
                    case 2:
                        let results = try await client.refresh(subset, locker: checked ? locker : nil)
                        return "refresh "
                            + results.map { "\($0.resource)=\(describe($0.outcome, leases[index]))" }.joined(separator: ",")
                    case 3:
                        let results = try await client.unlock(subset, locker: checked ? locker : nil)
                        return "unlock "
                            + results.map { "\($0.resource)=\(describe($0.outcome, leases[index]))" }.joined(separator: ",")
                    case 4:
                        let results = try await client.holders(of: subset)
                        return "holders "
                            + results.map { "\($0.resource)=\(describe($0.outcome, leases[index]))" }.joined(separator: ",")
                    case 5:
                        return "write " + describe(try await client.fencedWrite(value, to: key, fencingToken: token))
                    case 6:
                        if checked { return "claim " + describe(try await client.fencedRead(key, fencingToken: token)) }
                        return "read " + describe(try await client.fencedRead(key))
                    case 7:
                        let lease = try await client.tryAcquire(subset, ttl: .seconds(600), label: "w")
                        leases[index][leaseID] = lease
                        for (resource, token) in zip(lease.resources, lease.fencingTokens) {
                            let last = lastToken[index][resource] ?? 0
                            #expect(token > last, "\(kind) step \(step): lease token \(token) after \(last)")
                            lastToken[index][resource] = token
                        }
                        return "acquire \(lease.fencingTokens)"
                    case 8:
                        guard let release, let lease = leases[index][release] else { return "release none" }
                        return "release \(release) \(try await client.release(lease))"
                    default:
                        let listed = try await client.heldLocks()
                        return "listed "
                            + listed.map { "\($0.resource)=\(describe($0.outcome, leases[index]))" }.joined(separator: ",")
                    }
                }
                answers.append(answer)
            }
            #expect(
                Set(answers).count == 1,
                "seed \(seed) step \(step) op \(op) \(subset) \(locker) checked \(checked) client \(clientIndex) key \(key) token \(token): \(zip(kinds, answers).map { "\($0): \($1)" })"
            )
        }
    }

    /// What `body` answers, or the code of the error it throws.
    private static func attempt(_ body: () async throws -> String) async -> String {
        do {
            return try await body()
        } catch let error as LockError {
            return "error \(error.code)"
        } catch {
            return "error \(error)"
        }
    }

    /// A non-empty random subset of `items`, in a random order.
    private static func pick(_ items: [String], _ random: inout SplitMix64) -> [String] {
        let count = Int.random(in: 1...items.count, using: &random)
        return Array(items.shuffled(using: &random).prefix(count))
    }

    private static func owner(_ owner: String, _ leases: [Int: Lease]) -> String {
        if let (id, _) = leases.first(where: { $0.value.owner == owner }) { return "lease#\(id)" }
        return owner
    }

    private static func describe(_ holder: LockHolder?, _ leases: [Int: Lease]) -> String {
        guard let holder else { return "free" }
        let expiry = holder.remaining == nil ? "forever" : "expires"
        return "\(owner(holder.owner, leases))/\(expiry)/\(holder.fencingToken.map(String.init) ?? "-")"
    }

    private static func describe(_ outcome: LockOutcome, _ leases: [Int: Lease]) -> String {
        switch outcome {
        case .acquired(let token): return "acquired \(token)"
        case .alreadyHeld(let token): return "held \(token)"
        case .busy(let holder): return "busy \(describe(holder, leases))"
        }
    }

    private static func describe(_ outcome: RefreshOutcome, _ leases: [Int: Lease]) -> String {
        switch outcome {
        case .refreshed: return "refreshed"
        case .notLocked: return "free"
        case .heldByAnother(let holder): return "other \(describe(holder, leases))"
        }
    }

    private static func describe(_ outcome: UnlockOutcome, _ leases: [Int: Lease]) -> String {
        switch outcome {
        case .unlocked: return "unlocked"
        case .notLocked: return "free"
        case .heldByAnother(let holder): return "other \(describe(holder, leases))"
        }
    }

    private static func describe(_ value: FencedValue?) -> String {
        value.map { "\($0.string)@\($0.highestToken)" } ?? "nil"
    }

    private static func describe(_ outcome: FencedWriteOutcome) -> String {
        switch outcome {
        case .accepted: return "accepted"
        case .rejected(let highest): return "rejected \(highest)"
        }
    }

    private static func describe(_ outcome: FencedReadOutcome) -> String {
        switch outcome {
        case .read(let value): return "read \(describe(value))"
        case .rejected(let highest): return "rejected \(highest)"
        }
    }
}
