/// Printing a configuration (`"\(configuration)"`, `dump`, a failed test expectation) never
/// shows its password; the TLS settings show only whether TLS is on.
extension RedisConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The configuration without its secrets.
    public var description: String {
        var parts = ["address: \(address)"]
        if let username { parts.append("user: \(username)") }
        if password != nil { parts.append("password: <hidden>") }
        parts.append("database: \(database)")
        if let clientName { parts.append("client name: \(clientName)") }
        parts.append("tls: \(tls == nil ? "off" : "on")")
        parts.append("connect timeout: \(connectTimeout)")
        parts.append("command timeout: \(commandTimeout)")
        return "RedisConfiguration(\(parts.joined(separator: ", ")))"
    }

    /// The same as ``description``.
    public var debugDescription: String { description }

    /// Mirrors the configuration with the password and the TLS settings hidden.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "address": address, "username": username as Any, "password": password == nil ? "nil" : "<hidden>",
                "database": database, "clientName": clientName as Any, "tls": tls == nil ? "off" : "on",
                "connectTimeout": connectTimeout, "commandTimeout": commandTimeout,
                "keepAliveInterval": keepAliveInterval as Any, "reconnect": reconnect, "preferRESP3": preferRESP3,
                "limits": limits, "subscriptionLinger": subscriptionLinger,
            ],
            displayStyle: .struct)
    }
}
