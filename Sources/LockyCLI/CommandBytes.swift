import Foundation

/// locky's command line and environment as the bytes it was given. Swift's
/// `CommandLine.arguments` and `ProcessInfo.environment` are Strings, which turn bytes that are
/// not UTF-8 (a file name in Latin-1) into U+FFFD: COMMAND would get another name than the
/// one typed. Entries for COMMAND are NUL-terminated, ready for `posix_spawn`.
enum CommandBytes {
    /// The bytes of the last `decoded.count` arguments of locky's command line (`run`'s COMMAND
    /// is always its tail), or, should they not decode to `decoded`, `decoded` itself in UTF-8.
    static func trailingArguments(decoding decoded: [String]) -> [[CChar]] {
        let count = Int(CommandLine.argc)
        guard decoded.count <= count else { return decoded.map { Array($0.utf8CString) } }
        var raw: [[CChar]] = []
        for index in (count - decoded.count)..<count {
            guard let argument = CommandLine.unsafeArgv[index] else { return decoded.map { Array($0.utf8CString) } }
            raw.append(Array(UnsafeBufferPointer(start: argument, count: strlen(argument) + 1)))
        }
        let matches = zip(raw, decoded).allSatisfy { bytes, string in
            String(decoding: bytes.dropLast().map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self) == string
        }
        return matches ? raw : decoded.map { Array($0.utf8CString) }
    }

    /// The arguments of locky's command line that are not valid UTF-8, as Swift decoded them
    /// (U+FFFD in place of the bytes it could not read), leaving out the last `tail` (`run`'s COMMAND).
    static func undecodableArguments(excludingLast tail: Int = 0) -> [String] {
        let count = max(0, Int(CommandLine.argc) - tail)
        return (0..<count).compactMap { index -> String? in
            guard let argument = CommandLine.unsafeArgv[index] else { return nil }
            let bytes = UnsafeBufferPointer(start: argument, count: strlen(argument)).map { UInt8(truncatingIfNeeded: $0) }
            guard String(validating: bytes, as: UTF8.self) == nil else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// locky's environment as `NAME=value` entries, less those named in `replaced`'s keys, then
    /// `replaced`'s entries.
    static func environment(replacing replaced: [String: String]) -> [[CChar]] {
        var entries: [[CChar]] = []
        let replacedNames = Set(replaced.keys.map { Array($0.utf8) })
        let list = currentEnvironment()
        var index = 0
        while let entry = list?[index] {
            index += 1
            let bytes = Array(UnsafeBufferPointer(start: entry, count: strlen(entry) + 1))
            let name = bytes.prefix { $0 != CChar(truncatingIfNeeded: UInt8(ascii: "=")) }.map { UInt8(truncatingIfNeeded: $0) }
            if replacedNames.contains(name) { continue }
            entries.append(bytes)
        }
        for (name, value) in replaced.sorted(by: { $0.key < $1.key }) { entries.append(Array("\(name)=\(value)".utf8CString)) }
        return entries
    }

    /// `environ`, the process's environment list (NULL-terminated), if there is one.
    private static func currentEnvironment() -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        #if os(Linux)
            return environ
        #else
            return _NSGetEnviron().pointee
        #endif
    }
}
