/// TLS settings for `rediss://` connections.
public struct RedisTLSConfiguration: Sendable, Hashable {
    /// How the server's certificate is checked.
    public enum Verification: String, Sendable, Hashable {
        /// Certificate chain and host name (or IP address) are verified. The default.
        case full
        /// The chain is verified, the host name is not.
        case noHostname
        /// Nothing is verified. Only for tests; says so in its name on purpose.
        case insecureNoVerification
    }

    /// PEM file with the CA certificates to trust; nil uses the system's trust store.
    public var caCertificateFile: String?
    /// PEM file with the client certificate chain, for mutual TLS.
    public var certificateFile: String?
    /// PEM file with the client's private key, for mutual TLS.
    public var keyFile: String?
    /// How the server's certificate is checked.
    public var verification: Verification
    /// Name sent in SNI and checked against the certificate; defaults to the host (not for IP addresses).
    public var serverName: String?

    /// Creates TLS settings; the defaults verify the server against the system's trust store.
    public init(
        caCertificateFile: String? = nil,
        certificateFile: String? = nil,
        keyFile: String? = nil,
        verification: Verification = .full,
        serverName: String? = nil
    ) {
        self.caCertificateFile = caCertificateFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.verification = verification
        self.serverName = serverName
    }
}
