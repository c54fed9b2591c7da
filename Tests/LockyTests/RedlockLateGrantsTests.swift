import Testing

@testable import Locky

/// Which late Redlock replies get their fences raised, whichever comes first: the reply or the
/// call's decision.
@Suite("Redlock late grants (pure)")
struct RedlockLateGrantsTests {
    @Test func aLaggingReplyIsRaisedWhetherItComesBeforeOrAfterTheDecision() {
        let grants = RedlockLateGrants()
        #expect(grants.arrived(node: 0, tokens: [1, 11]) == nil)
        #expect(grants.arrived(node: 1, tokens: [11, 11]) == nil)
        #expect(grants.decide([11, 11]) == [0])
        #expect(grants.arrived(node: 2, tokens: [11, 5]) == [11, 11])
        #expect(grants.arrived(node: 3, tokens: [12, 11]) == nil)
        // Busy: it issued no token, raised best effort.
        #expect(grants.arrived(node: 4, tokens: [nil, nil]) == [11, 11])
    }

    @Test func nothingIsRaisedWhenTheCallHandedOutNoToken() {
        let grants = RedlockLateGrants()
        #expect(grants.arrived(node: 0, tokens: [1]) == nil)
        #expect(grants.decide(nil).isEmpty)
        #expect(grants.arrived(node: 1, tokens: [1]) == nil)
    }
}
