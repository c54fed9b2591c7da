import Testing

@testable import Locky

/// The holder's expiry told to a fair waiter (`S`) moves its timer without a round trip, and
/// never hides a wake-up that comes with it.
@Suite struct WakeSignalExpiryHintTests {
    @Test func anExpiryHintWakesTheWaiterOnceAndIsTakenOnce() async {
        let signal = WakeSignal()
        let clock = ManualLockClock()
        let at = clock.now + .seconds(3)
        signal.holderExpires(at: at)
        #expect(await signal.wait(until: nil, clock: clock) == .signalled)
        #expect(signal.takeHolderExpiry() == at)
        #expect(signal.takeHolderExpiry() == nil)
    }

    /// A release (or gap) that fires beside the hint is still there for the next wait: the
    /// waiter re-arms at the hint, and then wakes at once for the release.
    @Test func aWakeUpBesideTheHintIsNotLost() async {
        let signal = WakeSignal()
        let clock = ManualLockClock()
        signal.holderExpires(at: clock.now + .seconds(3))
        #expect(await signal.wait(until: nil, clock: clock) == .signalled)
        signal.fire()
        #expect(signal.takeHolderExpiry() != nil)
        #expect(await signal.wait(until: clock.now + .seconds(3), clock: clock) == .signalled)
        #expect(signal.takeHolderExpiry() == nil)
    }

    @Test func aHandOverIsSeenBeforeTheHint() {
        let signal = WakeSignal()
        #expect(!signal.hasHandOver)
        signal.handOver(fencingToken: 7, attempt: 1)
        #expect(signal.hasHandOver)
        #expect(signal.takeHandOver()?.fencingToken == 7)
        #expect(!signal.hasHandOver)
    }
}
