import Foundation
import LockyRESP
import LockyRedis
import LockyTestSupport
import Testing

/// The subscriber connection, closed while its handshake is unanswered.
@Suite struct SubscriberCloseWhileConnectingTests {
    /// A subscription started against a stopped server leaves the subscriber connection in its
    /// handshake. `close()` used to fail the subscriber's callers but leave that handshake
    /// running: the socket stayed open until the connect timeout (5 s).
    @Test(.timeLimit(.minutes(1))) func closeEndsTheSubscriberHandshake() async throws {
        try await RedisServer.withServer { server throws in
            server.pause()
            defer { server.resume() }
            let client = try RedisClient(configuration: try RedisConfiguration(url: server.url))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    await #expect(throws: RedisClientError.self) {
                        try await client.subscribe(channels: ["news"]) { _ in }
                    }
                }
                // The TCP connection is made (the kernel accepts it); the handshake waits.
                let connected = await eventually { Self.establishedConnections(toPort: server.port) == 1 }
                #expect(connected, "no connection to the stopped server")
                await client.close()
                try await group.waitForAll()
                let closed = await eventually(within: .seconds(1)) { Self.establishedConnections(toPort: server.port) == 0 }
                #expect(closed, "the subscriber's socket is still open after close()")
            }
        }
    }

    /// Established IPv4 TCP connections from this machine to `port` (the client's side).
    static func establishedConnections(toPort port: Int) -> Int {
        // Read to the end: a single read of a /proc file stops at one page (about 26 sockets).
        guard let data = try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/net/tcp")).readToEnd(),
            let table = String(data: data, encoding: .utf8)
        else { return -1 }
        let hex = String(port, radix: 16, uppercase: true)
        let remote = ":" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        return table.split(separator: "\n").dropFirst().count { line in
            let fields = line.split(separator: " ")
            // sl, local_address, rem_address, st, …; state 01 is ESTABLISHED.
            return fields.count > 3 && fields[2].hasSuffix(remote) && fields[3] == "01"
        }
    }
}
