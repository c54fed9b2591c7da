import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Random words from the operating system's CSPRNG, fetched in bulk.
///
/// Every lease owner takes 128 random bits. `SystemRandomNumberGenerator` makes one
/// `getrandom(2)` call per 64 bits on Linux: two system calls per acquire, as many as the
/// acquire's own write and read. The pool reads 1 KiB from `/dev/urandom` (the same generator
/// as `getrandom`) at once and hands the words out, each exactly once; on platforms whose
/// generator is not a system call (Darwin's `arc4random`), or when `/dev/urandom` cannot be
/// read, it asks `SystemRandomNumberGenerator` per word.
///
/// A process that forks without `exec` must not hand its child the words it may still use:
/// a fork handler bumps ``forks``, and a pool that sees a new count throws its words away.
enum SecureRandomPool {
    /// The words and where the next one is (a value, so tests can drive one of their own).
    struct State {
        var words: [UInt64] = []
        /// The next unused word.
        var next = 0
        /// ``forks`` when the words were read.
        var generation = -1
        #if os(Linux)
            /// The open `/dev/urandom`, -1 before the first read, -2 when it cannot be used.
            var descriptor: Int32 = -1

            /// Takes two words, refilling first when fewer are left or a fork happened since;
            /// nil when `/dev/urandom` cannot be read.
            mutating func take(forks: Int) -> (UInt64, UInt64)? {
                if generation != forks || next + 2 > words.count {
                    guard refill() else { return nil }
                    generation = forks
                }
                let pair = (words[next], words[next + 1])
                // Used words are overwritten, so no copy of a handed-out token stays in memory.
                words[next] = 0
                words[next + 1] = 0
                next += 2
                return pair
            }

            private mutating func refill() -> Bool {
                if descriptor == -1 {
                    let opened = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
                    descriptor = opened >= 0 ? opened : -2
                }
                guard descriptor >= 0 else { return false }
                if words.count != SecureRandomPool.batch { words = Array(repeating: 0, count: SecureRandomPool.batch) }
                let file = descriptor
                let complete = words.withUnsafeMutableBytes { buffer -> Bool in
                    guard let base = buffer.baseAddress else { return false }
                    var filled = 0
                    while filled < buffer.count {
                        let count = read(file, base + filled, buffer.count - filled)
                        if count > 0 {
                            filled += count
                        } else if count < 0 && errno == EINTR {
                            continue
                        } else {
                            return false
                        }
                    }
                    return true
                }
                guard complete else {
                    close(file)
                    descriptor = -2
                    return false
                }
                next = 0
                return true
            }
        #endif
    }

    /// Words read per refill: 1 KiB, 64 owner tokens.
    private static let batch = 128

    private static let state = Mutex(State())

    /// Forks seen by this process (bumped in the child by a `pthread_atfork` handler).
    static let forks = Atomic<Int>(0)

    #if os(Linux)
        private static let forkHandler: Void = {
            _ = pthread_atfork(nil, nil) { SecureRandomPool.forks.add(1, ordering: .relaxed) }
        }()
    #endif

    /// Two unused random words.
    static func pair() -> (UInt64, UInt64) {
        #if os(Linux)
            _ = forkHandler
            let forks = forks.load(ordering: .relaxed)
            if let pair = state.withLock({ $0.take(forks: forks) }) { return pair }
        #endif
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next())
    }
}
