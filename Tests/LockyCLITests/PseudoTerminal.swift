#if os(Linux)
    import Foundation
    import Glibc

    /// A pseudo-terminal: the test holds the master side and types into it (`0x03` is Ctrl-C); a
    /// process started with the slave as its controlling terminal gets what a terminal would send
    /// its foreground job.
    final class PseudoTerminal {
        /// The master side: what is written here is typed into the terminal (-1 once hung up).
        private(set) var master: Int32
        /// The slave side, opened without becoming this process's controlling terminal.
        let slave: Int32
        /// `/dev/pts/N`.
        let slavePath: String

        struct Failure: Error, CustomStringConvertible {
            let description: String
        }

        init() throws {
            let posix_openpt = try Self.libc("posix_openpt", as: (@convention(c) (Int32) -> Int32).self)
            let grantpt = try Self.libc("grantpt", as: (@convention(c) (Int32) -> Int32).self)
            let unlockpt = try Self.libc("unlockpt", as: (@convention(c) (Int32) -> Int32).self)
            let ptsname_r = try Self.libc(
                "ptsname_r", as: (@convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32).self)
            // O_NOCTTY: the terminal must become the child's controlling terminal, never the test runner's.
            let master = posix_openpt(O_RDWR | O_NOCTTY)
            guard master >= 0 else { throw Failure(description: "posix_openpt: \(String(cString: strerror(errno)))") }
            guard grantpt(master) == 0, unlockpt(master) == 0 else {
                let reason = String(cString: strerror(errno))
                close(master)
                throw Failure(description: "grantpt/unlockpt: \(reason)")
            }
            var name = [CChar](repeating: 0, count: 128)
            guard ptsname_r(master, &name, name.count) == 0 else {
                close(master)
                throw Failure(description: "ptsname_r failed")
            }
            let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let slave = open(path, O_RDWR | O_NOCTTY)
            guard slave >= 0 else {
                let reason = String(cString: strerror(errno))
                close(master)
                throw Failure(description: "open \(path): \(reason)")
            }
            self.master = master
            self.slave = slave
            self.slavePath = path
        }

        /// A C library function by name: the Glibc module leaves out the XSI pseudo-terminal ones.
        private static func libc<Function>(_ name: String, as type: Function.Type) throws -> Function {
            guard let library = dlopen(nil, RTLD_NOW), let symbol = dlsym(library, name) else {
                throw Failure(description: "\(name) not found in the C library")
            }
            return unsafeBitCast(symbol, to: type)
        }

        deinit {
            close(slave)
            if master >= 0 { close(master) }
        }

        /// Closes the master side: the terminal hangs up (SIGHUP to its session's leader).
        func hangUp() {
            guard master >= 0 else { return }
            close(master)
            master = -1
        }

        /// Types `bytes` into the terminal (the line discipline turns Ctrl-C into SIGINT for the foreground job).
        func type(_ bytes: [UInt8]) throws {
            let written = bytes.withUnsafeBytes { Glibc.write(master, $0.baseAddress, $0.count) }
            guard written == bytes.count else {
                throw Failure(description: "writing to the terminal: \(String(cString: strerror(errno)))")
            }
        }
    }
#endif
