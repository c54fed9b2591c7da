extension RedisConfiguration {
    /// Parses `redis://[[user]:password@]host[:port][/db][?options]`, `rediss://…` (TLS) or
    /// `unix://[[user]:password@]/path/to/socket[?db=N&…]`.
    ///
    /// Credentials without a colon (`redis://s3cret@host`) are a password, not a user name.
    /// User and password may be percent-encoded; the host and the socket path are taken as
    /// written. Options, all optional:
    /// `connect_timeout`, `command_timeout`, `keepalive` (durations such as `500ms` or `2s`;
    /// a bare number means milliseconds; `keepalive=off` disables it), `name` (client name),
    /// `db` (for Unix sockets), `protocol` (`2` or `3`), and for TLS `ca`, `cert`, `key`
    /// (PEM file paths), `verify` (`full`, `nohostname`, `none`) or `insecure=true`, and `sni`.
    ///
    /// - Throws: ``RedisConfigurationError`` naming the part that is malformed.
    public init(url: String) throws(RedisConfigurationError) {
        do {
            try self.init(parsing: url)
        } catch {
            // A password with an unescaped `/`, `?` or `#` spills into the parts after it; when
            // the URL has credentials, no quoted fragment of it is repeated in the error.
            guard let at = url.lastIndex(of: "@") else { throw error }
            var start = url.startIndex
            if let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") {
                start = url.index(colon, offsetBy: 3)
            }
            let credentials = start < at ? String(url[start..<at]) : ""
            throw RedisConfigurationError(
                part: Self.hiding(credentials, in: error.part),
                message: Self.hiding(credentials, in: error.message)
            )
        }
    }

    /// Replaces every quoted fragment that appears in `credentials` by `'…'`.
    private static func hiding(_ credentials: String, in text: String) -> String {
        var result = ""
        var fragment = ""
        var inQuote = false
        for character in text {
            if character == "'" {
                if inQuote {
                    let secret = !fragment.isEmpty && credentials.contains(fragment)
                    result += secret ? "'…'" : "'\(fragment)'"
                    fragment = ""
                }
                inQuote.toggle()
            } else if inQuote {
                fragment.append(character)
            } else {
                result.append(character)
            }
        }
        if inQuote { result += "'" + fragment }
        return result
    }

    private init(parsing url: String) throws(RedisConfigurationError) {
        self.init()
        var rest = Substring(url)
        guard let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") else {
            throw RedisConfigurationError(part: "scheme", message: "expected redis://, rediss:// or unix://")
        }
        let scheme = rest[..<colon].lowercased()
        rest = rest[rest.index(colon, offsetBy: 3)...]

        // Credentials first, up to the last `@` outside the query: a password may hold an
        // unescaped `/`, `?` or `,`, and no later part of the parse ever sees (or quotes) it.
        if scheme == "redis" || scheme == "rediss", let at = Self.endOfCredentials(in: rest) {
            try parseCredentials(rest[..<at])
            rest = rest[rest.index(after: at)...]
        } else if scheme == "unix", !rest.hasPrefix("/"), let at = rest.firstRange(of: "@/")?.lowerBound {
            // `unix://user:password@/path` (redis-py's form): the credentials end where the
            // absolute path starts, so an `@` in the path (`/run/redis@main/…`) stays in it.
            try parseCredentials(rest[..<at])
            rest = rest[rest.index(after: at)...]
        }

        var query: Substring = ""
        if let questionMark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: questionMark)...]
            rest = rest[..<questionMark]
        }

        var databaseInPath = false
        switch scheme {
        case "redis", "rediss":
            if scheme == "rediss" { tls = RedisTLSConfiguration() }
            databaseInPath = try parseNetworkLocation(rest)
        case "unix":
            guard rest.hasPrefix("/"), rest.count > 1 else {
                throw RedisConfigurationError(part: "path", message: "unix:// needs an absolute socket path")
            }
            address = .unixSocket(path: String(rest))
        default:
            throw RedisConfigurationError(part: "scheme", message: "'\(scheme)' is not redis, rediss or unix")
        }
        try applyQuery(query, databaseInPath: databaseInPath)
        try validate()
    }

    /// Where the credentials of `text` (after `scheme://`) end: its last `@`, unless that one
    /// sits in the query (`?ca=/certs/a@b.pem`); nil without credentials.
    private static func endOfCredentials(in text: Substring) -> Substring.Index? {
        guard let at = text.lastIndex(of: "@") else { return nil }
        if let questionMark = text.firstIndex(of: "?"), questionMark < at, text[questionMark..<at].contains("=") {
            return text[..<questionMark].lastIndex(of: "@")
        }
        return at
    }

    private mutating func parseCredentials(_ credentials: Substring) throws(RedisConfigurationError) {
        if let colon = credentials.firstIndex(of: ":") {
            let user = try Self.percentDecoded(credentials[..<colon], part: "user")
            username = user.isEmpty ? nil : user
            password = try Self.percentDecoded(credentials[credentials.index(after: colon)...], part: "password")
        } else if !credentials.isEmpty {
            // `redis://secret@host` is the common "password only" form (redis-py reads it the same way).
            password = try Self.percentDecoded(credentials, part: "password")
        }
    }

    /// Host, port and the database of the path; true when the path named a database.
    private mutating func parseNetworkLocation(_ text: Substring) throws(RedisConfigurationError) -> Bool {
        var location = text
        var path: Substring = ""
        if let slash = location.firstIndex(of: "/") {
            path = location[location.index(after: slash)...]
            location = location[..<slash]
        }
        var host: Substring
        var portText: Substring?
        if location.hasPrefix("[") {
            guard let close = location.firstIndex(of: "]") else {
                throw RedisConfigurationError(part: "host", message: "IPv6 address lacks ']'")
            }
            host = location[location.index(after: location.startIndex)..<close]
            let afterClose = location[location.index(after: close)...]
            if !afterClose.isEmpty {
                guard afterClose.hasPrefix(":") else {
                    throw RedisConfigurationError(part: "port", message: "expected ':' after the IPv6 address")
                }
                portText = afterClose.dropFirst()
            }
        } else if let colon = location.lastIndex(of: ":") {
            host = location[..<colon]
            portText = location[location.index(after: colon)...]
            if host.contains(":") {
                throw RedisConfigurationError(part: "host", message: "an IPv6 address needs brackets, as in redis://[::1]:6379")
            }
        } else {
            host = location
        }
        guard !host.isEmpty else { throw RedisConfigurationError(part: "host", message: "is missing") }
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" }) else {
            throw RedisConfigurationError(part: "host", message: "'\(host)' contains characters a host name cannot have")
        }
        var port = 6379
        if let portText {
            guard let value = Self.decimal(portText), (1...65535).contains(value) else {
                // Text that is not digits is not quoted: in `redis://user:password` (no `@host`) it is a password.
                let shown = portText.allSatisfy(\.isASCII) && portText.allSatisfy(\.isNumber) ? "'\(portText)' " : ""
                throw RedisConfigurationError(
                    part: "port",
                    message:
                        "\(shown)is not a port number in 1...65535 (credentials go before an '@': redis://user:password@host)"
                )
            }
            port = value
        }
        address = .tcp(host: String(host), port: port)

        guard !path.isEmpty else { return false }
        guard let value = Self.decimal(path) else {
            throw RedisConfigurationError(part: "database", message: "'\(path)' is not a database number")
        }
        database = value
        return true
    }

    /// The value of `text` when it is decimal digits only: `Int` alone also takes a sign
    /// (`+80`), which no port or database number is written with.
    private static func decimal(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(text)
    }

    /// The spellings of one option, by the name errors use: an option given twice (under one
    /// name or two) is refused, not silently settled by the last one.
    private static let optionAliases: [Substring: String] = [
        "connectTimeout": "connect_timeout", "commandTimeout": "command_timeout", "timeout": "command_timeout",
        "keep_alive": "keepalive", "client_name": "name", "database": "db", "tls_ca_file": "ca", "cacert": "ca",
        "tls_cert_file": "cert", "tls_key_file": "key", "server_name": "sni", "insecure": "verify",
    ]

    private mutating func applyQuery(_ query: Substring, databaseInPath: Bool) throws(RedisConfigurationError) {
        guard !query.isEmpty else { return }
        var given: Set<String> = databaseInPath ? ["db"] : []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring
            let rawValue: Substring
            if let equals = pair.firstIndex(of: "=") {
                name = pair[..<equals]
                rawValue = pair[pair.index(after: equals)...]
            } else {
                name = pair
                rawValue = ""
            }
            let part = "query parameter '\(name)'"
            let option = Self.optionAliases[name] ?? String(name)
            guard given.insert(option).inserted else {
                let message = option == "db" && databaseInPath ? "names a database the path names too" : "is given twice"
                throw RedisConfigurationError(part: part, message: message)
            }
            let value = try Self.percentDecoded(rawValue, part: part)
            switch name {
            case "connect_timeout", "connectTimeout":
                connectTimeout = try Self.duration(value, part: part)
            case "command_timeout", "commandTimeout", "timeout":
                commandTimeout = try Self.duration(value, part: part)
            case "keepalive", "keep_alive":
                keepAliveInterval = value == "off" || value == "0" ? nil : try Self.duration(value, part: part)
            case "name", "client_name":
                clientName = value
            case "db", "database":
                guard let number = Self.decimal(value) else {
                    throw RedisConfigurationError(part: part, message: "'\(value)' is not a database number")
                }
                database = number
            case "protocol":
                switch value {
                case "2": preferRESP3 = false
                case "3": preferRESP3 = true
                default: throw RedisConfigurationError(part: part, message: "must be 2 or 3")
                }
            case "ca", "tls_ca_file", "cacert":
                try requireTLS(part)
                tls?.caCertificateFile = value
            case "cert", "tls_cert_file":
                try requireTLS(part)
                tls?.certificateFile = value
            case "key", "tls_key_file":
                try requireTLS(part)
                tls?.keyFile = value
            case "sni", "server_name":
                try requireTLS(part)
                tls?.serverName = value
            case "insecure":
                guard value == "true" || value == "1" || value.isEmpty else {
                    throw RedisConfigurationError(part: part, message: "must be true or 1")
                }
                try requireTLS(part)
                tls?.verification = .insecureNoVerification
            case "verify":
                try requireTLS(part)
                switch value {
                case "full": tls?.verification = .full
                case "nohostname": tls?.verification = .noHostname
                case "none": tls?.verification = .insecureNoVerification
                default: throw RedisConfigurationError(part: part, message: "must be full, nohostname or none")
                }
            default:
                throw RedisConfigurationError(part: part, message: "is not a known option")
            }
        }
        if let tls, (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw RedisConfigurationError(part: "query parameter 'cert'", message: "cert and key must be given together")
        }
    }

    private func requireTLS(_ part: String) throws(RedisConfigurationError) {
        guard tls != nil else {
            throw RedisConfigurationError(part: part, message: "is a TLS option; use rediss://")
        }
    }

    private static func duration(_ text: String, part: String) throws(RedisConfigurationError) -> Duration {
        guard let duration = DurationParser.parse(text), duration > .zero else {
            throw RedisConfigurationError(part: part, message: "'\(text)' is not a positive duration such as 500ms or 2s")
        }
        return duration
    }

    /// Decodes `%XX` escapes; the text of a password is never put into the error.
    private static func percentDecoded(_ text: Substring, part: String) throws(RedisConfigurationError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    throw RedisConfigurationError(part: part, message: "has a malformed %-escape")
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw RedisConfigurationError(part: part, message: "is not valid UTF-8 after %-decoding")
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
