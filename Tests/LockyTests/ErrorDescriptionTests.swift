import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport
import Testing

/// An error's description says its cause once. Messages quote their cause, and descriptions
/// appended it again, nested: a refused connection read "Connection refused" three times in a
/// client error, four in the lock error around it.
@Suite struct ErrorDescriptionTests {
    static func occurrences(of needle: String, in text: String) -> Int {
        text.ranges(of: needle).count
    }

    @Test func aRefusedConnectionIsDescribedOnce() async throws {
        let port = try FreePort.next()
        var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(port)")
        configuration.reconnect = RedisReconnectPolicy(initialDelay: .seconds(10), maximumDelay: .seconds(10))
        let client = try RedisClient(configuration: configuration)
        var errors: [RedisClientError] = []
        // The first call fails connecting; the second meets the backoff (`unavailable` around it).
        for _ in 0..<2 {
            do {
                _ = try await client.execute(RESPCommand("PING"), timeout: .seconds(1))
            } catch {
                errors.append(error)
            }
        }
        await client.close()
        #expect(errors.map(\.code) == [.connectionFailed, .unavailable])
        for error in errors {
            let lockError = LockError(error, during: "lock")
            for text in [error.description, lockError.description] {
                #expect(Self.occurrences(of: "Connection refused", in: text) == 1, "\(text)")
            }
        }
        // The cause's code is still there when the message quotes the rest.
        #expect(errors[1].description.hasSuffix("(connectionFailed)"), "\(errors[1])")
        #expect(LockError(errors[1], during: "lock").description.hasSuffix("(unavailable)"))
    }

    /// A cause that the message does not quote is still printed in full.
    @Test func anUnquotedCauseIsPrintedInFull() {
        let cause = RedisClientError(.timeout, "no reply within 5 s")
        let error = RedisClientError(.connectionLost, "the connection was retired", underlying: cause)
        #expect(error.description == "connectionLost: the connection was retired (timeout: no reply within 5 s)")
        let cancelled = LockError(RedisClientError(.cancelled, "the calling task was cancelled"), during: "acquire")
        #expect(cancelled.description == "cancelled: acquire was cancelled (cancelled: the calling task was cancelled)")
    }
}
