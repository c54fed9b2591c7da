#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Hands out TCP ports on 127.0.0.1 that are free at the moment of the call.
///
/// The port is only known to be free when this returns; a caller that binds later must be prepared for the port to have
/// been taken in between (``RedisServer`` retries with another port in that case).
public enum FreePort {
    /// Binds a socket to 127.0.0.1 port 0, reads the port the kernel chose, closes the socket and returns the port.
    public static func next() throws(RedisHarnessError) -> Int {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw .system("socket()", errno: errno) }
        defer { close(fd) }

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw .system("bind(127.0.0.1:0)", errno: errno) }

        var chosen = sockaddr_in()
        var chosenLength = length
        let named = withUnsafeMutablePointer(to: &chosen) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &chosenLength) }
        }
        guard named == 0 else { throw .system("getsockname()", errno: errno) }
        return Int(UInt16(bigEndian: chosen.sin_port))
    }
}
