import Foundation
import LockyTestSupport
import Testing

/// Passwords, ACL users and TLS.
@Suite struct RedisServerSecurityTests {
    @Test func passwordIsRequired() async throws {
        try await RedisServer.withServer(.init(password: "s3cret \"pw\"")) { server throws in
            #expect(try server.cli("PING") == "PONG")
            let error = #expect(throws: RedisHarnessError.self) {
                try server.cli(arguments: ["PING"], authenticate: false)
            }
            #expect(error?.message.contains("NOAUTH") == true)
            #expect(error?.code == .commandFailed)
            #expect(throws: RedisHarnessError.self) { try server.cli(arguments: ["PING"], password: "wrong") }
        }
    }

    @Test func aclUserCanRunItsCommandsOnly() async throws {
        let user = RedisServer.ACLUser(name: "locky", password: "pw", rules: "~locky:* &locky:* -@all +ping +get +set")
        try await RedisServer.withServer(.init(password: "admin", aclUsers: [user])) { server throws in
            #expect(try server.cli(arguments: ["SET", "locky:a", "1"], user: "locky", password: "pw") == "OK")
            #expect(try server.cli(arguments: ["GET", "locky:a"], user: "locky", password: "pw") == "1")

            let otherKey = #expect(throws: RedisHarnessError.self) {
                try server.cli(arguments: ["GET", "other"], user: "locky", password: "pw")
            }
            #expect(otherKey?.message.contains("NOPERM") == true)
            let otherCommand = #expect(throws: RedisHarnessError.self) {
                try server.cli(arguments: ["DEL", "locky:a"], user: "locky", password: "pw")
            }
            #expect(otherCommand?.message.contains("NOPERM") == true)
            // The default user is unaffected and still uses the server password.
            #expect(try server.cli("GET", "other") == "")
        }
    }

    @Test func tlsServerAnswersOverTLSOnly() async throws {
        try await RedisServer.withServer(.init(tls: true)) { server throws in
            let tls = try TLSMaterial.shared()
            #expect(server.url == "rediss://127.0.0.1:\(server.port)")
            #expect(try server.cli("PING") == "PONG")

            let port = String(server.port)
            let withoutClientCertificate = try ExternalCommand.run(
                "redis-cli",
                ["-h", "127.0.0.1", "-p", port, "-e", "--tls", "--cacert", tls.caCertificatePath, "PING"]
            )
            #expect(withoutClientCertificate.status == 0)
            #expect(withoutClientCertificate.output.contains("PONG"))

            let wrongCA = try ExternalCommand.run(
                "redis-cli",
                ["-h", "127.0.0.1", "-p", port, "-e", "--tls", "--cacert", tls.wrongCACertificatePath, "PING"]
            )
            #expect(!wrongCA.output.contains("PONG"))
        }
    }

    @Test func tlsMaterialIsSharedAndChainsToItsCA() throws {
        let first = try TLSMaterial.shared()
        let second = try TLSMaterial.shared()
        #expect(first.directory == second.directory)

        let chain = try ExternalCommand.run(
            "openssl",
            ["verify", "-CAfile", first.caCertificatePath, first.serverCertificatePath, first.clientCertificatePath]
        )
        #expect(chain.status == 0, "\(chain.output)")
        let wrong = try ExternalCommand.run(
            "openssl",
            ["verify", "-CAfile", first.wrongCACertificatePath, first.serverCertificatePath]
        )
        #expect(wrong.status != 0)
        let names = try ExternalCommand.run(
            "openssl",
            ["x509", "-in", first.serverCertificatePath, "-noout", "-ext", "subjectAltName"]
        )
        #expect(names.output.contains("IP Address:127.0.0.1"))
        #expect(names.output.contains("DNS:localhost"))
    }
}
