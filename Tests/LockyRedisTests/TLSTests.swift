import Foundation
import LockyRESP
import LockyTestSupport
import Testing

@testable import LockyRedis

/// `rediss://` against a TLS-only server with the harness's certificates.
@Suite(.timeLimit(.minutes(1))) struct TLSTests {
    @Test func verifiedConnectionWithAndWithoutClientCertificate() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            let tls = try TLSMaterial.shared()
            try await withClient(server, suffix: "?ca=\(tls.caCertificatePath)&name=tls-plain") { client throws in
                #expect(try await run(client, RESPCommand("SET", "k", "over-tls"), as: String.self) == "OK")
                #expect(try await run(client, RESPCommand("GET", "k"), as: String.self) == "over-tls")
            }
            let mutual = "?ca=\(tls.caCertificatePath)&cert=\(tls.clientCertificatePath)&key=\(tls.clientKeyPath)"
            try await withClient(server, suffix: mutual) { client throws in
                #expect(try await run(client, RESPCommand("GET", "k"), as: String.self) == "over-tls")
            }
            #expect(try server.cli("GET", "k") == "over-tls")
        }
    }

    /// A command deadline retires the connection; a TLS connection goes on delivering data while
    /// it shuts down. The late reply of the timed-out command must reach nobody: here the next
    /// callers, queued behind it, used to get the previous caller's reply.
    @Test func lateRepliesAfterADeadlineReachNobody() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            let tls = try TLSMaterial.shared()
            try await withClient(server, suffix: "?ca=\(tls.caCertificatePath)", commandTimeout: .milliseconds(300)) {
                client throws in
                #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
                server.pause()
                let replies = try await withThrowingTaskGroup(of: (String, Result<String, any Error>).self) { group in
                    for name in ["a", "b", "c"] {
                        group.addTask {
                            do {
                                return (name, .success(try await run(client, RESPCommand("ECHO", name), as: String.self)))
                            } catch {
                                return (name, .failure(error))
                            }
                        }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    // The deadline passes while the server is stopped; then it answers all three.
                    try await Task.sleep(for: .milliseconds(600))
                    server.resume()
                    return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
                }
                for (name, reply) in replies {
                    if case .success(let value) = reply { #expect(value == name, "\(name) got \(value)") }
                }
                if case .success = replies["a"] { Issue.record("a should have timed out") }
                #expect(try await run(client, RESPCommand("ECHO", "after"), as: String.self) == "after")
            }
        }
    }

    /// `close()` of a TLS client whose server is stopped: the TLS shutdown waits for the
    /// server's close_notify, which never comes. It used to wait NIOSSL's 5 s default for each
    /// connection (a CLI run against a Redlock list with a stopped TLS node took that long to
    /// exit); the wait is now short, and the client's two connections (commands, subscriber)
    /// wait it out together: closing both took twice as long as closing one before.
    @Test func closeDoesNotWaitLongForAStoppedServersTLSShutdown() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            let tls = try TLSMaterial.shared()
            let url = try configuration(for: server, suffix: "?ca=\(tls.caCertificatePath)")
            let single = try RedisClient(configuration: url)
            let client = try RedisClient(configuration: url)
            #expect(try await run(single, RESPCommand("PING"), as: String.self) == "PONG")
            #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
            try await withThrowingTaskGroup(of: Void.self) { group in
                // The subscriber's connection too.
                group.addTask {
                    try await client.subscribe(channels: ["tls-close"]) { subscription in
                        for await _ in subscription {}
                    }
                }
                let subscribed = await eventually { (try? server.cli("PUBSUB", "NUMSUB", "tls-close"))?.hasSuffix("1") == true }
                try #require(subscribed)
                server.pause()
                defer { server.resume() }
                // One connection, then two: a ratio, so a loaded machine slows both alike.
                var start = ContinuousClock.now
                await single.close()
                let one = ContinuousClock.now - start
                start = ContinuousClock.now
                await client.close()
                let two = ContinuousClock.now - start
                #expect(one < .seconds(1), "closing one connection took \(one)")
                #expect(two < one * 1.5, "closing two connections took \(two), one \(one)")
                try await group.waitForAll()
            }
        }
    }

    /// Two `close()` calls at once: each returns only once the connection is closed. With the
    /// server stopped, closing waits out the TLS shutdown (the server's close_notify never
    /// comes), so the first call is still closing when the second comes. Before, the second
    /// returned at once (55 ms after the first began), its connection still open.
    @Test func concurrentClosesEachReturnOnceTheConnectionIsClosed() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            let tls = try TLSMaterial.shared()
            let client = try RedisClient(configuration: configuration(for: server, suffix: "?ca=\(tls.caCertificatePath)"))
            #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
            server.pause()
            defer { server.resume() }
            let started = ContinuousClock.now
            async let first: Duration = {
                await client.close()
                return ContinuousClock.now - started
            }()
            // The first is waiting for the stopped server when the second comes.
            try await Task.sleep(for: .milliseconds(50))
            await client.close()
            let second = ContinuousClock.now - started
            let firstTook = await first
            // The TLS shutdown waits 250 ms for the stopped server (RedisConnector.tlsShutdownTimeout).
            #expect(firstTook >= .milliseconds(200), "the first close took \(firstTook)")
            #expect(second >= .milliseconds(200), "the second close returned \(second) after the first began")
            let (error, _) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
            #expect(error?.code == .closed)
        }
    }

    @Test func localhostNameIsVerifiedToo() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            let tls = try TLSMaterial.shared()
            let url = "rediss://localhost:\(server.port)?ca=\(tls.caCertificatePath)"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: url)) { client throws in
                #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
            }
            // With `nohostname` only the chain is checked. (A mismatched SNI name cannot be shown to fail here:
            // NIOSSL also accepts the certificate's IP SAN matching the peer address, 127.0.0.1.)
            let otherName = "rediss://127.0.0.1:\(server.port)?ca=\(tls.caCertificatePath)&sni=not-in-the-cert.example"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: otherName + "&verify=nohostname")) {
                client throws in
                #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
            }
        }
    }

    /// Verification is on by default: `rediss://` with no `ca` trusts the system roots only, so
    /// the harness's own CA (as any self-signed server) is refused, never accepted silently.
    @Test func defaultVerificationRefusesAServerOutsideTheSystemRoots() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: server.url)) { client throws in
                let (error, elapsed) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                #expect(error?.code == .tlsFailure, "\(String(describing: error))")
                #expect(error?.mayHaveRun == false)
                #expect(elapsed < .seconds(2), "\(elapsed)")
            }
        }
    }

    @Test func wrongCAFailsVerificationQuickly() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            let tls = try TLSMaterial.shared()
            try await withClient(server, suffix: "?ca=\(tls.wrongCACertificatePath)") { client throws in
                let (error, elapsed) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                #expect(error?.code == .tlsFailure, "\(String(describing: error))")
                #expect(error?.mayHaveRun == false)
                #expect(elapsed < .seconds(2), "\(elapsed)")
            }
            try await withClient(server, suffix: "?ca=\(tls.wrongCACertificatePath)&verify=none") { client throws in
                #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
            }
            try await withClient(server, suffix: "?insecure=true") { client throws in
                #expect(try await run(client, RESPCommand("PING"), as: String.self) == "PONG")
            }
        }
    }

    @Test func unreadableCAFileIsATLSFailureNotAHang() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            try await withClient(server, suffix: "?ca=/nonexistent/locky-ca.pem") { client throws in
                let (error, elapsed) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                #expect(error?.code == .tlsFailure, "\(String(describing: error))")
                #expect(error?.mayHaveRun == false)
                #expect(elapsed < .seconds(2), "\(elapsed)")
            }
        }
    }

    /// A TLS file that cannot be loaded is named in the error, option and path: NIOSSL's own
    /// error (`failedToLoadCertificate`) names neither, so with `ca`, `cert` and `key` given an
    /// operator could not tell which file to fix.
    @Test func unloadableTLSFileIsNamedInTheError() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            let tls = try TLSMaterial.shared()
            let garbage = tls.directory + "/not-pem-\(UInt32.random(in: 0...UInt32.max)).txt"
            try Data("not a PEM file\n".utf8).write(to: URL(fileURLWithPath: garbage))
            defer { try? FileManager.default.removeItem(atPath: garbage) }
            let ca = tls.caCertificatePath
            let cert = tls.clientCertificatePath
            let key = tls.clientKeyPath
            let cases: [(suffix: String, named: String)] = [
                ("?ca=/nonexistent/locky-ca.pem", "ca=/nonexistent/locky-ca.pem"),
                ("?ca=\(garbage)", "ca=\(garbage)"),
                ("?ca=\(ca)&cert=\(garbage)&key=\(key)", "cert=\(garbage)"),
                ("?ca=\(ca)&cert=\(cert)&key=\(garbage)", "key=\(garbage)"),
                ("?ca=\(ca)&cert=\(cert)&key=\(cert)", "key=\(cert)"),
            ]
            for (suffix, named) in cases {
                try await withClient(server, suffix: suffix) { client throws in
                    let (error, elapsed) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                    #expect(error?.code == .tlsFailure, "\(suffix): \(String(describing: error))")
                    #expect(error?.message.contains("cannot load \(named):") == true, "\(suffix): \(String(describing: error))")
                    #expect(elapsed < .seconds(2), "\(elapsed)")
                }
            }
        }
    }

    /// TLS settings that would fail at every connect (read as "unreachable"), or be dropped
    /// without a word, are refused when the client is made: a certificate without its key
    /// connected without any client certificate.
    @Test func tlsSettingsThatCannotWorkAreRefusedUpFront() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            let tls = try TLSMaterial.shared()
            let base = "rediss://127.0.0.1:\(server.port)?ca=\(tls.caCertificatePath)"
            for (suffix, part) in [("&sni=127.0.0.1", "sni"), ("&sni=%3A%3A1", "sni"), ("&sni=", "sni"), ("&sni=a%00b", "sni")] {
                let error = await #expect(throws: RedisConfigurationError.self, "\(suffix)") {
                    let configuration = try RedisConfiguration(url: base + suffix)
                    try await RedisClient.withClient(configuration: configuration) { client throws in
                        _ = try await client.execute(RESPCommand("PING"))
                    }
                }
                #expect(error?.part == part, "\(suffix): \(String(describing: error))")
            }
            var withoutKey = try RedisConfiguration(url: base)
            withoutKey.tls?.certificateFile = tls.clientCertificatePath
            let error = await #expect(throws: RedisConfigurationError.self) {
                try await RedisClient.withClient(configuration: withoutKey) { client throws in
                    _ = try await client.execute(RESPCommand("PING"))
                }
            }
            #expect(error?.part == "cert", "\(String(describing: error))")
        }
    }

    @Test func plainClientAgainstTLSServerFails() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            let url = "redis://127.0.0.1:\(server.port)?connect_timeout=500ms"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: url)) { client throws in
                let (error, elapsed) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                #expect(
                    error.map { [.connectionFailed, .protocolError].contains($0.code) } == true, "\(String(describing: error))")
                #expect(elapsed < .seconds(2))
            }
        }
    }

    /// A plain server waits for the end of a line the ClientHello never sends: the timeout says
    /// what is likely wrong instead of only "no reply".
    @Test func tlsClientAgainstPlainServerSaysSo() async throws {
        try await RedisServer.withServer { server throws in
            let tls = try TLSMaterial.shared()
            let url = "rediss://127.0.0.1:\(server.port)?ca=\(tls.caCertificatePath)&connect_timeout=300ms"
            try await RedisClient.withClient(configuration: try RedisConfiguration(url: url)) { client throws in
                let (error, _) = await clientError { _ = try await client.execute(RESPCommand("PING")) }
                #expect(error?.message.contains("speaking TLS") == true, "\(String(describing: error))")
            }
        }
    }
}
