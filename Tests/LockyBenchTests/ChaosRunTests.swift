import Foundation
import Testing

/// A short chaos run per backend, through the real `locky-bench` binary: worker processes,
/// injected faults, and the checker's four counters at zero.
@Suite("Chaos run (short)")
struct ChaosRunTests {
    static var binary: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/locky-bench").path
    }

    @Test(arguments: ["redis", "redlock"])
    func violationsAreZero(backend: String) throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build locky-bench first (swift build)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["chaos", "--backend", backend, "--seconds", "12", "--json"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let report = try #require(
            try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
        let number = { (key: String) in (report[key] as? NSNumber)?.intValue ?? -1 }
        #expect(number("operations") > 50, "\(report)")
        #expect(number("faults") >= 5, "\(report)")
        for key in ["overlaps", "stale_writes_accepted", "lost_updates", "unsignalled_losses", "phantom_updates"] {
            #expect(number(key) == 0, "\(key): \(report)")
        }
    }
}
