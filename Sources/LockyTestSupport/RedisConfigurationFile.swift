/// Renders the redis.conf of a test server.
enum RedisConfigurationFile {
    static func render(
        options: RedisServer.Options,
        port: Int,
        directory: String,
        tls: TLSMaterial?
    ) -> String {
        var lines = [
            "bind 127.0.0.1",
            "protected-mode no",
            "daemonize no",
            "dir \(quoted(directory))",
            "logfile \(quoted(directory + "/redis.log"))",
            "pidfile \(quoted(directory + "/redis.pid"))",
            "save \"\"",
        ]
        if let tls {
            lines += [
                "port 0",
                "tls-port \(port)",
                "tls-cert-file \(quoted(tls.serverCertificatePath))",
                "tls-key-file \(quoted(tls.serverKeyPath))",
                "tls-ca-cert-file \(quoted(tls.caCertificatePath))",
                "tls-auth-clients optional",
            ]
        } else {
            lines.append("port \(port)")
        }
        if options.persistence {
            // fsync on every write so that a SIGKILL (crash test) loses nothing.
            lines += ["appendonly yes", "appendfsync always"]
        } else {
            lines.append("appendonly no")
        }
        if let password = options.password {
            lines.append("requirepass \(quoted(password))")
        }
        for user in options.aclUsers {
            lines.append("user \(quoted(user.name)) on \(quoted(">" + user.password)) \(user.rules)")
        }
        lines += options.extraConfiguration
        return lines.joined(separator: "\n") + "\n"
    }

    /// Quotes a value the way redis.conf parses it (sdssplitargs), so spaces and quotes in paths or passwords survive.
    static func quoted(_ value: String) -> String {
        var result = "\""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default: result.append(character)
            }
        }
        return result + "\""
    }
}
