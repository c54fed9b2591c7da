import LockyRESP
import LockyRedis
import Testing

@testable import Locky

/// Redlock's arithmetic without sockets: quorum, fencing tokens across nodes, and which
/// answer wins when nodes disagree or fail.
@Suite("Redlock tally and event merging (pure)")
struct RedlockTallyTests {
    let five = RedlockTally(nodes: ["n1", "n2", "n3", "n4", "n5"])
    let three = RedlockTally(nodes: ["n1", "n2", "n3"])
    let down = LockError(.backendUnavailable, "connection refused")
    let slow = LockError(
        .backendUnavailable, "no reply", underlying: RedisClientError(.timeout, "no reply within 100 ms", mayHaveRun: true))
    let other = LockHolder(owner: "other", remaining: .seconds(3))

    @Test func quorumIsAStrictMajority() {
        #expect(RedlockTally(nodes: ["a"]).quorum == 1)
        #expect(RedlockTally(nodes: ["a", "b"]).quorum == 2)
        #expect(three.quorum == 2)
        #expect(RedlockTally(nodes: ["a", "b", "c", "d"]).quorum == 3)
        #expect(five.quorum == 3)
    }

    @Test func acquireNeedsAQuorumOfGrants() {
        let granted: Result<AcquireReply, LockError> = .success(.acquired(fencingTokens: [7]))
        let busy: Result<AcquireReply, LockError> = .success(.busy(index: 0, holder: other))
        #expect(five.acquire([granted, granted, granted, .failure(down), .failure(slow)]) == .acquired(tokens: [7], raise: []))
        #expect(five.acquire([granted, granted, .failure(down), .failure(down), .failure(slow)]) == .failed)
        // Three held by another: no quorum is possible, whatever the rest says.
        #expect(five.acquire([granted, busy, busy, busy, .failure(down)]) == .busy(index: 0, holder: other))
        // Two busy, two failed: the failed ones might have granted; nothing is known.
        #expect(five.acquire([granted, busy, busy, .failure(down), .failure(slow)]) == .failed)
    }

    /// An add-to extend lasts what a quorum of the nodes that extended holds: the quorum-th
    /// longest time left, not the longest (a node behind the others may make the quorum).
    @Test func anExtensionLastsWhatItsQuorumHolds() {
        typealias Answer = Result<(reply: ExtendReply, least: Duration?), LockError>
        let long: Answer = .success((.extended, .seconds(7)))
        let short: Answer = .success((.extended, .seconds(3)))
        let lost: Answer = .success((.lost(index: 0, holder: nil), nil))
        #expect(three.extendedFor([long, lost, short]) == .seconds(3))
        #expect(three.extendedFor([long, long, short]) == .seconds(7))
        #expect(five.extendedFor([long, short, .failure(down), short, long]) == .seconds(3))
        // Fewer than a quorum extended, or a node that does not say: nothing to bound it by.
        #expect(three.extendedFor([long, lost, .failure(slow)]) == nil)
        #expect(three.extendedFor([long, .success((.extended, nil)), short]) == nil)
    }

    /// The lease gets the highest token; every lagging granting node is raised, also when a
    /// quorum already issued the highest one (left behind, it is one restart away from handing
    /// out a lower token: see RedlockFencingTests).
    @Test func fencingTokensTakeTheHighestAndRaiseLaggingNodes() {
        let a: Result<AcquireReply, LockError> = .success(.acquired(fencingTokens: [10, 4]))
        let b: Result<AcquireReply, LockError> = .success(.acquired(fencingTokens: [12, 4]))
        let c: Result<AcquireReply, LockError> = .success(.acquired(fencingTokens: [10, 5]))
        #expect(three.acquire([a, b, c]) == .acquired(tokens: [12, 5], raise: [0, 1, 2]))
        #expect(three.acquire([b, b, a]) == .acquired(tokens: [12, 4], raise: [2]))
        #expect(three.acquire([b, b, b]) == .acquired(tokens: [12, 4], raise: []))
        #expect(five.acquire([b, b, a, .failure(down), .failure(down)]) == .acquired(tokens: [12, 4], raise: [2]))
    }

    @Test func extendIsExtendedLostOrUnknown() {
        let extended: Result<ExtendReply, LockError> = .success(.extended)
        let gone: Result<ExtendReply, LockError> = .success(.lost(index: 0, holder: nil))
        let taken: Result<ExtendReply, LockError> = .success(.lost(index: 0, holder: other))
        #expect(three.extend([extended, extended, gone]) == .extended)
        #expect(three.extend([extended, gone, taken]) == .lost(index: 0, holder: nil))
        #expect(three.extend([taken, taken, extended]) == .lost(index: 0, holder: other))
        #expect(three.extend([extended, .failure(down), gone]) == nil)
    }

    @Test func renewalPerItem() {
        let replies: [Result<[RenewalResult], LockError>] = [
            .success([.renewed, .missing, .heldByAnother(owner: "x")]),
            .success([.renewed, .missing, .heldByAnother(owner: "x")]),
            .failure(down),
        ]
        #expect(three.renewal(replies, index: 0) == .renewed)
        #expect(three.renewal(replies, index: 1) == .missing)
        #expect(three.renewal(replies, index: 2) == .heldByAnother(owner: "x"))
        let split: [Result<[RenewalResult], LockError>] = [.success([.renewed]), .failure(down), .failure(slow)]
        #expect(three.renewal(split, index: 0) == nil)
    }

    @Test func unlockHoldersAndFencedStorage() {
        let unlocked: Result<[UnlockOutcome], LockError> = .success([.unlocked])
        let free: Result<[UnlockOutcome], LockError> = .success([.notLocked])
        #expect(three.unlock([free, unlocked, .failure(down)], index: 0) == .unlocked)
        #expect(three.unlock([free, free, .failure(down)], index: 0) == .notLocked)
        #expect(three.unlock([free, .failure(down), .failure(down)], index: 0) == nil)

        let mine = LockHolder(owner: "me", remaining: .seconds(5), fencingToken: 3)
        let mineLater = LockHolder(owner: "me", remaining: .seconds(4), fencingToken: 4)
        let holders: [Result<[LockHolder?], LockError>] = [.success([mine]), .success([mineLater]), .success([nil])]
        #expect(three.holder(holders, index: 0) == .some(LockHolder(owner: "me", remaining: .seconds(4), fencingToken: 4)))
        let minority: [Result<[LockHolder?], LockError>] = [.success([mine]), .success([nil]), .success([nil])]
        #expect(three.holder(minority, index: 0) == .some(nil))

        #expect(three.fencedWrite([.success(.accepted), .success(.accepted), .failure(down)]) == .accepted)
        #expect(
            three.fencedWrite([.success(.rejected(highestToken: 9)), .success(.rejected(highestToken: 8)), .success(.accepted)])
                == .rejected(highestToken: 9))
        #expect(three.fencedWrite([.success(.accepted), .failure(down), .failure(down)]) == nil)
    }

    @Test func quorumErrorNamesEveryNode() {
        let replies: [Result<AcquireReply, LockError>] = [
            .success(.acquired(fencingTokens: [1])), .success(.busy(index: 0, holder: other)), .failure(slow),
        ]
        let error = three.quorumError("acquire", replies, resource: "r") { reply in
            if case .busy(_, let holder) = reply { return .heldByAnother(holder) }
            return .granted
        }
        #expect(error.code == .quorumNotReached)
        #expect(error.nodes.count == 3)
        let text = error.description
        #expect(text.contains("n1: granted"))
        #expect(text.contains("n2: held by other"))
        #expect(text.contains("n3: timed out"))
        #expect(text.contains("1 of 3 nodes agreed, 2 needed"))
    }

    /// Refusals for a key of another type (Locky's own, or a WRONGTYPE reply) are a
    /// `serverError` once they leave too few other nodes for a quorum, naming the resource
    /// most of them named; fewer, with failed nodes, leave it open.
    @Test func refusalsForForeignKeysThatLeaveNoQuorumAreAServerError() {
        let granted: Result<AcquireReply, LockError> = .success(.acquired(fencingTokens: [1]))
        let lockKey: Result<AcquireReply, LockError> = .failure(.foreignLockValue("r"))
        let fenceKey: Result<AcquireReply, LockError> = .failure(.foreignFenceValue("f"))
        let wrongType: Result<AcquireReply, LockError> = .failure(
            LockError(
                RedisClientError.server(RedisServerError(code: .wrongtype, message: "Operation against a key")),
                during: "fenced write"))
        let acl: Result<AcquireReply, LockError> = .failure(LockError(.serverError, "NOPERM"))
        let classify: (AcquireReply) -> RedlockNodeOutcome.Result = { _ in .granted }

        let three = five.quorumError("acquire", [granted, lockKey, fenceKey, lockKey, .failure(down)], classify)
        #expect(three.code == .serverError, "\(three)")
        #expect(three.resource == "r")
        #expect(three.nodes.count == 5)
        #expect(three.message.contains("refused by 3 of 5 nodes"), "\(three)")
        let wrong = five.quorumError("fenced write", [wrongType, wrongType, wrongType, granted, granted], classify)
        #expect(wrong.code == .serverError, "\(wrong)")
        #expect(wrong.underlying?.serverError?.code == .wrongtype)
        #expect(wrong.resource == nil)
        // Two refusals of five and two failed nodes: those might have granted.
        #expect(
            five.quorumError("acquire", [granted, lockKey, lockKey, .failure(down), .failure(slow)], classify).code
                == .quorumNotReached)
        // Other server errors (an ACL, a loading server) are no key of another type: not counted.
        #expect(five.quorumError("acquire", [granted, lockKey, lockKey, acl, acl], classify).code == .quorumNotReached)
    }

    @Test func eventsPassOnceWhenAQuorumReportedThem() {
        var merger = RedlockEventMerger(quorum: 2)
        let now = ContinuousClock.now
        let locked = LockEvent.locked(resource: "r", locker: "a", ttl: nil)
        #expect(merger.receive(locked, tag: "t", fromNode: 0, at: now) == nil)
        #expect(merger.receive(locked, tag: "t", fromNode: 0, at: now) == nil, "the same node twice is one report")
        #expect(merger.receive(locked, tag: "t", fromNode: 1, at: now)?.resource == "r")
        #expect(merger.receive(locked, tag: "t", fromNode: 2, at: now) == nil, "passed on once")
        #expect(merger.receive(.unlocked(resource: "r"), tag: "t", fromNode: 2, at: now) == nil)
        #expect(merger.receive(.unlocked(resource: "r"), tag: "t", fromNode: 0, at: now)?.resource == "r")
        // The next cycle of the same resource starts afresh.
        #expect(merger.receive(locked, tag: "t", fromNode: 1, at: now) == nil)
        #expect(merger.receive(locked, tag: "t", fromNode: 2, at: now)?.resource == "r")
        // Reports older than the window do not count.
        #expect(merger.receive(.expired(resource: "s"), tag: "t", fromNode: 0, at: now) == nil)
        #expect(merger.receive(.expired(resource: "s"), tag: "t", fromNode: 1, at: now + .seconds(3)) == nil)
        #expect(merger.receive(.gap, tag: "t", fromNode: 1, at: now) != nil)
    }

    /// A split vote: three attempts of one label each took one of three nodes and gave it back.
    /// No quorum ever held the lock, so neither `locked` nor `unlocked` is passed on; the tag of
    /// each attempt tells their reports apart.
    @Test func attemptsThatEachTookAMinorityAreNoLock() {
        var merger = RedlockEventMerger(quorum: 2)
        let now = ContinuousClock.now
        let locked = LockEvent.locked(resource: "r", locker: "lease", ttl: .seconds(1))
        for (node, tag) in ["a", "b", "c"].enumerated() {
            #expect(merger.receive(locked, tag: tag, fromNode: node, at: now) == nil)
        }
        for (node, tag) in ["a", "b", "c"].enumerated() {
            #expect(merger.receive(.unlocked(resource: "r"), tag: tag, fromNode: node, at: now) == nil)
        }
        // The same attempt on a quorum is a lock.
        #expect(merger.receive(locked, tag: "d", fromNode: 0, at: now) == nil)
        #expect(merger.receive(locked, tag: "d", fromNode: 1, at: now)?.resource == "r")
    }

    /// A locker that already held a quorum and regains a minority node has not newly taken the
    /// lock: `alreadyHeld`, not `acquired` (with its old token).
    @Test func regainingAMinorityNodeIsNoFreshLock() {
        let held: Result<[LockOutcome], LockError> = .success([.alreadyHeld(fencingToken: 5)])
        let regained: Result<[LockOutcome], LockError> = .success([.acquired(fencingToken: 1)])
        guard case .locked(let token, let fresh, _) = three.lock([held, held, regained], index: 0) else {
            Issue.record("a quorum holds it")
            return
        }
        #expect(token == 5 && !fresh)
        guard case .locked(_, let freshOnTwo, _) = three.lock([held, regained, regained], index: 0) else {
            Issue.record("a quorum holds it")
            return
        }
        #expect(freshOnTwo)
    }

    /// A lock call may stop waiting only when more replies cannot change its outcome: locked on
    /// a quorum, and newly taken or already held for good (a silent node that already held it
    /// could turn `acquired` into `alreadyHeld`); busy and undecided always wait.
    @Test func aLockIsFinalOnlyWhenMoreRepliesCannotChangeIt() {
        let taken: Result<[LockOutcome], LockError> = .success([.acquired(fencingToken: 1)])
        let held: Result<[LockOutcome], LockError> = .success([.alreadyHeld(fencingToken: 1)])
        let busy: Result<[LockOutcome], LockError> = .success([.busy(other)])
        let silent: Result<[LockOutcome], LockError> = .failure(slow)
        #expect(five.lockIsFinal([taken, taken, taken, silent, silent], index: 0))
        #expect(five.lockIsFinal([held, held, held, silent, silent], index: 0))
        // Held on one or two and two silent: with both, a quorum already held it (`alreadyHeld`).
        #expect(!five.lockIsFinal([held, held, taken, silent, silent], index: 0))
        #expect(!five.lockIsFinal([held, taken, taken, silent, silent], index: 0))
        #expect(five.lockIsFinal([held, taken, taken, taken, silent], index: 0))
        #expect(!five.lockIsFinal([taken, taken, silent, silent, silent], index: 0))
        #expect(!five.lockIsFinal([busy, busy, busy, silent, silent], index: 0))
        #expect(!five.lockIsFinal([taken, taken, taken, taken, taken], index: 1))
    }

    /// Holders: free only when no owner could have a quorum counting the nodes that did not
    /// answer (X on one node, one free, one silent: X may hold two).
    @Test func holderIsUnknownWhenSilentNodesCouldCompleteAQuorum() {
        let x = LockHolder(owner: "X", remaining: .seconds(5))
        let heldOnOne: [Result<[LockHolder?], LockError>] = [.success([x]), .success([nil]), .failure(slow)]
        #expect(three.holder(heldOnOne, index: 0) == nil)
        let freeOnTwo: [Result<[LockHolder?], LockError>] = [.success([nil]), .success([nil]), .failure(slow)]
        #expect(three.holder(freeOnTwo, index: 0) == .some(nil))
        let heldOnTwo: [Result<[LockHolder?], LockError>] = [.success([x]), .success([x]), .failure(slow)]
        #expect(three.holder(heldOnTwo, index: 0)??.owner == "X")
    }

    /// Unlocked only when the nodes that did not answer cannot hold it on a quorum: one node's
    /// removal with two silent nodes of three answered `unlocked` while the two still held it.
    @Test func unlockNeedsTheSilentNodesToBeAMinority() {
        let removed: Result<[UnlockOutcome], LockError> = .success([.unlocked])
        let free: Result<[UnlockOutcome], LockError> = .success([.notLocked])
        let taken: Result<[UnlockOutcome], LockError> = .success([.heldByAnother(other)])
        #expect(three.unlock([removed, .failure(slow), .failure(down)], index: 0) == nil)
        #expect(three.unlock([removed, free, .failure(down)], index: 0) == .unlocked)
        #expect(three.unlock([removed, taken, .failure(down)], index: 0) == .unlocked)
        #expect(five.unlock([removed, removed, .failure(slow), .failure(slow), .failure(down)], index: 0) == nil)
        #expect(five.unlock([removed, removed, free, .failure(slow), .failure(down)], index: 0) == .unlocked)
        #expect(three.unlock([free, free, .failure(down)], index: 0) == .notLocked)
        #expect(three.unlock([free, .failure(down), .failure(down)], index: 0) == nil)
        // A minority key removed while another holds a quorum: held by another, not unlocked.
        #expect(three.unlock([taken, taken, removed], index: 0) == .heldByAnother(other))
        #expect(three.unlock([taken, taken, .failure(down)], index: 0) == .heldByAnother(other))
    }
}

/// Which Redlock nodes are one server, by the run_ids their connections learnt.
@Suite("Redlock node identities (pure)")
struct RedlockNodeIdentitiesTests {
    let identities = RedlockNodeIdentities(nodes: ["a:1", "b:1", "c:1"])

    @Test func twoNodesWithOneRunIDConflictAndNameBothNodes() {
        let conflict = identities.conflict(["x", "y", "x"])
        #expect(conflict?.code == .invalidArgument)
        #expect(conflict?.message.contains("a:1 and c:1") == true)
    }

    @Test func unknownAndDistinctRunIDsPass() {
        #expect(identities.conflict(["x", "y", "z"]) == nil)
        #expect(identities.conflict([nil, nil, nil]) == nil)
        #expect(identities.conflict(["x", nil, "y"]) == nil)
    }
}
