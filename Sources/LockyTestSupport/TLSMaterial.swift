import Foundation
import Synchronization

/// Certificates for TLS tests, generated with openssl into a temporary folder once per process.
///
/// Holds a CA, a server certificate for 127.0.0.1 and localhost signed by that CA, a client certificate signed by it,
/// and the certificate of a second, unrelated CA for tests that must fail verification. Keys are ECDSA P-256 (fast to
/// generate) and unencrypted PEM.
public struct TLSMaterial: Sendable {
    /// The folder holding all files.
    public let directory: String
    /// PEM certificate of the CA that signed the server and client certificates.
    public let caCertificatePath: String
    /// PEM server certificate (SAN IP:127.0.0.1, DNS:localhost).
    public let serverCertificatePath: String
    /// PEM private key of the server certificate.
    public let serverKeyPath: String
    /// PEM client certificate (extended key usage clientAuth).
    public let clientCertificatePath: String
    /// PEM private key of the client certificate.
    public let clientKeyPath: String
    /// PEM certificate of a CA that signed nothing here, for negative tests.
    public let wrongCACertificatePath: String

    private static let cache = Mutex<TLSMaterial?>(nil)

    /// The material of this process, generated on first use and reused by every TLS server (thread-safe).
    public static func shared() throws(RedisHarnessError) -> TLSMaterial {
        // Generating under the lock makes concurrent first callers wait for one generation instead of racing.
        try cache.withLock { (cached: inout TLSMaterial?) throws(RedisHarnessError) -> TLSMaterial in
            if let cached { return cached }
            let material = try generate()
            cached = material
            return material
        }
    }

    private init(directory: String) {
        self.directory = directory
        caCertificatePath = directory + "/ca.crt"
        serverCertificatePath = directory + "/server.crt"
        serverKeyPath = directory + "/server.key"
        clientCertificatePath = directory + "/client.crt"
        clientKeyPath = directory + "/client.key"
        wrongCACertificatePath = directory + "/wrong-ca.crt"
    }

    private static func generate() throws(RedisHarnessError) -> TLSMaterial {
        let openssl = try ToolLocator.path(of: "openssl")
        // The pid in the name lets scripts/stop-test-servers.sh remove folders of processes that are gone.
        let directory =
            FileManager.default.temporaryDirectory.path
            + "/locky-tls-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RedisHarnessError(.setupFailed, "Could not create \(directory): \(error)")
        }
        let material = TLSMaterial(directory: directory)

        try selfSignedCA(openssl, name: "ca", subject: "/CN=Locky Test CA", in: directory)
        try selfSignedCA(openssl, name: "wrong-ca", subject: "/CN=Locky Wrong CA", in: directory)
        try signedLeaf(
            openssl,
            name: "server",
            subject: "/CN=localhost",
            extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
            in: directory
        )
        try signedLeaf(
            openssl,
            name: "client",
            subject: "/CN=locky-test-client",
            extensions: "extendedKeyUsage=clientAuth\n",
            in: directory
        )
        return material
    }

    private static func selfSignedCA(
        _ openssl: String,
        name: String,
        subject: String,
        in directory: String
    ) throws(RedisHarnessError) {
        try run(
            openssl,
            [
                "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).crt",
                "-days", "3650", "-subj", subject,
            ]
        )
    }

    private static func signedLeaf(
        _ openssl: String,
        name: String,
        subject: String,
        extensions: String,
        in directory: String
    ) throws(RedisHarnessError) {
        let base = "\(directory)/\(name)"
        let extensionsPath = base + ".ext"
        let allExtensions =
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            + "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n" + extensions
        do {
            try allExtensions.write(toFile: extensionsPath, atomically: true, encoding: .utf8)
        } catch {
            throw RedisHarnessError(.setupFailed, "Could not write \(extensionsPath): \(error)")
        }
        try run(
            openssl,
            [
                "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", base + ".key", "-out", base + ".csr", "-subj", subject,
            ]
        )
        try run(
            openssl,
            [
                "x509", "-req", "-in", base + ".csr", "-CA", "\(directory)/ca.crt", "-CAkey", "\(directory)/ca.key",
                "-set_serial", String(UInt32.random(in: 1...UInt32.max)), "-days", "3650", "-sha256",
                "-extfile", extensionsPath, "-out", base + ".crt",
            ]
        )
    }

    private static func run(_ openssl: String, _ arguments: [String]) throws(RedisHarnessError) {
        let result = try ChildProcess.run(openssl, arguments, timeout: .seconds(30))
        guard result.status == 0 else {
            throw RedisHarnessError(
                .commandFailed,
                "openssl \(arguments.prefix(2).joined(separator: " ")) failed (exit \(result.status)): "
                    + result.errorOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            )
        }
    }
}
