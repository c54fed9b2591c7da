import Foundation

/// Holds a listening socket on a loopback port so a server cannot bind it, until ``release()``.
final class PortBlocker: Sendable {
    private let descriptor: Int32

    /// Listens on 127.0.0.1:`port`; returns nil if that is not possible.
    init?(port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            close(fd)
            return nil
        }
        descriptor = fd
    }

    /// Closes the socket, freeing the port.
    func release() {
        close(descriptor)
    }
}
