import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Logging
import NIOCore
import Testing

/// Secrets never reach the logs, and lease owner tokens are 128 random bits.
@Suite("Log hygiene", .timeLimit(.minutes(2)))
struct LogHygieneTests {
    /// Everything Locky and LockyRedis log at trace level, through a workload that touches every
    /// path that logs (connect, keep-alive, reconnect, script reload, renewal, a lost lease,
    /// events, a refused AUTH): no password, owner token, locker id or fenced value appears.
    @Test func traceLogsHoldNoSecrets() async throws {
        let nonce = UInt64.random(in: 1_000_000...9_999_999)
        let password = "pw-\(nonce)-secret"
        let locker = "locker-\(nonce)-secret"
        let thief = "thief-\(nonce)-secret"
        let fencedValue = "fenced-\(nonce)-secret"
        let capture = LogCapture()
        try await RedisServer.withServer(.init(password: password)) { server throws in
            let url = "redis://:\(password)@127.0.0.1:\(server.port)/0?keepalive=100ms&name=hygiene"
            var configuration = try LockyConfiguration(url: url)
            configuration.label = "hygiene"
            let owners = Shared<[String]>([])
            try await LockClient.withClient(configuration: configuration, logger: capture.logger()) { locks in
                try await locks.events { stream in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { for await _ in stream {} }
                        defer { group.cancelAll() }

                        let lease = try await locks.tryAcquire(["r1", "r2"], ttl: .seconds(5))
                        owners.update { $0.append(lease.owner) }
                        try await locks.extend(lease, toExpireIn: .seconds(5))
                        try await locks.extend(lease, by: .seconds(1))
                        await expectLockError(.busy) { _ = try await locks.tryAcquire("r1", ttl: .seconds(1)) }
                        #expect(
                            try await locks.fencedWrite(fencedValue, to: "data", fencingToken: lease.fencingToken) == .accepted)
                        #expect(try await locks.fencedRead("data")?.string == fencedValue)
                        #expect(try await locks.release(lease) == .released)

                        _ = try await locks.lock(["l1", "l2"], locker: locker)
                        _ = try await locks.refresh("l1", locker: locker)
                        #expect(try await locks.locker(of: "l1") == locker)
                        _ = try await locks.unlock("l1", locker: locker)

                        // A waiting acquire, woken by a release.
                        let holder = try await locks.tryAcquire("w", ttl: .seconds(10))
                        owners.update { $0.append(holder.owner) }
                        async let waited = locks.acquire("w", ttl: .seconds(5), timeout: .seconds(5))
                        try await Task.sleep(for: .milliseconds(100))
                        _ = try await locks.release(holder)
                        let next = try await waited
                        owners.update { $0.append(next.owner) }
                        _ = try await locks.release(next)

                        // Renewal, then a lease lost to a thief (the renewal loop logs the loss).
                        let renewed = try await locks.withLock("renewed", ttl: .milliseconds(200)) { lease in
                            owners.update { $0.append(lease.owner) }
                            try await Task.sleep(for: .milliseconds(500))
                            return lease.isValid
                        }
                        #expect(renewed)
                        let stolen = try await locks.tryAcquire("stolen", ttl: .milliseconds(300))
                        owners.update { $0.append(stolen.owner) }
                        try locks.startRenewing(stolen)
                        _ = try await locks.lock("stolen", locker: thief, force: true)
                        let lost = try await within(.seconds(3), "the loss") {
                            for await state in stolen.states() { if case .lost = state { return true } }
                            return false
                        }
                        #expect(lost)

                        // Idle long enough for keep-alives, then a script cache flush and a killed connection.
                        try await Task.sleep(for: .milliseconds(300))
                        // (Scripts are loaded on every new connection, so the flush comes after the reconnect.)
                        try server.cli("CLIENT", "KILL", "TYPE", "normal")
                        let after = try await locks.tryAcquire("after", ttl: .seconds(1))
                        owners.update { $0.append(after.owner) }
                        try server.cli("SCRIPT", "FLUSH")
                        _ = try await locks.release(after)
                        let expiring = try await locks.tryAcquire("expiring", ttl: .milliseconds(50))
                        owners.update { $0.append(expiring.owner) }
                        try await Task.sleep(for: .milliseconds(150))
                    }
                }
            }
            // A refused AUTH, logged by a client of its own.
            var wrong = try LockyConfiguration(url: "redis://:not-\(password)@127.0.0.1:\(server.port)")
            wrong.label = "hygiene"
            try await LockClient.withClient(configuration: wrong, logger: capture.logger()) { locks in
                await expectLockError(.authenticationFailed) { _ = try await locks.tryAcquire("r", ttl: .seconds(1)) }
                await expectLockError(.authenticationFailed) {
                    _ = try await locks.acquire("r", ttl: .seconds(1), timeout: .seconds(1))
                }
            }
            let entries = capture.entries
            #expect(entries.count >= 10, "too little was logged to prove anything: \(entries)")
            for needle in ["keep-alive", "script not in the server's cache", "connection closed", "lease lost", "connect failed"]
            {
                #expect(entries.contains { $0.contains(needle) }, "no \"\(needle)\" entry: \(entries)")
            }
            // A library leaves the log to its application: nothing above debug, even for a lost
            // lease, a dropped connection or a refused password (they are errors and events).
            let loud = entries.filter { !$0.hasPrefix("trace ") && !$0.hasPrefix("debug ") }
            #expect(loud.isEmpty, "logged above debug: \(loud)")
            let tokens = owners.value.map { String($0.suffix(32)) }
            #expect(tokens.count == 7)
            for entry in entries {
                for secret in [password, locker, thief, fencedValue] + tokens {
                    #expect(!entry.contains(secret), "a secret is in the log: \(entry)")
                }
            }
        }
    }

    /// 10,000 owners: 32 lowercase hex digits each, all distinct, and every one of the 128 bits
    /// set in about half of them (so all 128 vary; none is fixed or derived from another).
    @Test func ownerTokensAre128RandomBits() async throws {
        let locks = try LockClient(configuration: LockyConfiguration(backend: .memory))
        let count = 10_000
        var tokens = Set<String>()
        var ones = [Int](repeating: 0, count: 128)
        for index in 0..<count {
            let lease = try await locks.tryAcquire("r\(index)", ttl: .seconds(5), label: "host:1")
            let token = String(lease.owner.dropFirst("host:1/".count))
            #expect(lease.owner.hasPrefix("host:1/"))
            #expect(isLeaseOwner(token), "\(token)")
            tokens.insert(token)
            for (position, digit) in token.enumerated() {
                let value = digit.hexDigitValue ?? 0
                for bit in 0..<4 where value & (8 >> bit) != 0 { ones[position * 4 + bit] += 1 }
            }
            _ = try await locks.release(lease)
        }
        #expect(tokens.count == count)
        // Binomial(10,000, ½): σ = 50; 6σ either side fails a fair bit once in ~10⁹ runs.
        for (bit, set) in ones.enumerated() {
            #expect((4_700...5_300).contains(set), "bit \(bit) is set in \(set) of \(count) tokens")
        }
        await locks.close()
    }
}
