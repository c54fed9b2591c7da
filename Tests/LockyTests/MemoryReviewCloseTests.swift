import Locky
import LockyRedis
import NIOCore
import Synchronization
import Testing

@testable import Locky

/// The in-memory backend after ``InMemoryLockBackend/close()``: every call fails with the closed
/// error and changes nothing in the table (the close conformance test compares a Redis server's
/// keys, but had no way to look at the memory table).
@Suite("Memory review: close changes nothing")
struct MemoryReviewCloseTests {
    /// Every call after close, through the client and straight to the backend, fails with the
    /// closed error; the table (locks, one at its deadline, fencing counters, a fenced value, a
    /// fair queue) is the same afterwards, also after the clock passed every deadline while
    /// expirations were watched (the expiry timer stopped with the close).
    @Test func everyCallAfterCloseLeavesTheTableAsItWas() async throws {
        let clock = ManualLockClock()
        let memory = InMemoryLockBackend(clock: clock)
        let client = try LockClient(backend: memory, clock: clock)
        let lease = try await client.tryAcquire("held", ttl: .seconds(30))
        #expect(try await client.lock("locked", locker: "user-1").isLocked)
        _ = try await memory.acquire(["stale"], owner: "gone", ttl: .seconds(1))
        #expect(try await client.fencedWrite("v", to: "data", fencingToken: 3) == .accepted)
        let queued = try await memory.acquireFair(
            "held", owner: "waiter-owner", ttl: .seconds(5), waiter: "abc.1", waiterTTL: .seconds(60), attempt: 1)
        guard case .queued = queued else {
            Issue.record("the fair waiter was not queued: \(queued)")
            return
        }
        let events = Mutex<[String]>([])
        let before = try await memory.withEventHandler(expirations: true, { event in events.withLock { $0.append("\(event)") } })
        {
            // To the stale lock's deadline: its expiry timer is armed just past it.
            clock.advance(by: .seconds(1))
            let before = memory.tableSnapshot
            await client.close()
            return before
        }
        #expect(before.contains("lock stale"))
        await client.close()

        func expectClosed(_ what: String, _ call: () async throws -> Void) async {
            do {
                try await call()
                Issue.record("\(what) succeeded after close")
            } catch let error as LockError {
                #expect(error.code == .backendUnavailable, "\(what): \(error)")
                #expect(error.underlying?.code == .closed, "\(what): \(error)")
            } catch {
                Issue.record("\(what) threw \(error)")
            }
        }
        await expectClosed("tryAcquire") { _ = try await client.tryAcquire("stale", ttl: .seconds(5)) }
        await expectClosed("extend") { try await client.extend(lease, toExpireIn: .seconds(40)) }
        await expectClosed("release") { _ = try await client.release(lease) }
        await expectClosed("lock") { _ = try await client.lock("stale", locker: "user-2", force: true) }
        await expectClosed("refresh") { _ = try await client.refresh("locked") }
        await expectClosed("unlock") { _ = try await client.unlock(["locked", "stale"]) }
        await expectClosed("holders") { _ = try await client.holders(of: ["stale"]) }
        await expectClosed("heldLocks") { _ = try await client.heldLocks() }
        await expectClosed("fenced write") { _ = try await client.fencedWrite("w", to: "data", fencingToken: 9) }
        await expectClosed("fenced read") { _ = try await client.fencedRead("data", fencingToken: 9) }
        await expectClosed("plain fenced read") { _ = try await client.fencedRead("data") }
        await expectClosed("renew") {
            _ = try await memory.renew([RenewalItem(resource: "held", owner: lease.owner, ttl: .seconds(60))])
        }
        await expectClosed("fair acquire") {
            _ = try await memory.acquireFair(
                "held", owner: "other", ttl: .seconds(5), waiter: "abc.2", waiterTTL: .seconds(60), attempt: 1)
        }
        await expectClosed("leave queue") { try await memory.leaveQueue("held", waiter: "abc.1", owner: "waiter-owner") }
        await expectClosed("events") { _ = try await memory.withEvents(expirations: true) { _ in 1 } }
        await expectClosed("wake handler") { _ = try await memory.withWakeHandler(waiter: nil, { _ in }) { 1 } }
        // Past every deadline: the timer armed for the stale lock expires nothing after close.
        clock.advance(by: .seconds(120))
        #expect(memory.tableSnapshot == before)
        #expect(events.withLock { $0 }.isEmpty)
    }
}
