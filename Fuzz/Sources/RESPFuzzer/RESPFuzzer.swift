import LockyRESP
import NIOCore

/// libFuzzer's entry point: one input per call.
///
/// The first byte steers the run (which limits, and the seed of the split points); the rest is the stream a server
/// would send. The stream is decoded three times with ``RESPTokenDecoder``: in one piece; cut at up to 7 points
/// derived from the input, with the decoder called after every piece; and through NIO's processor with the same cuts,
/// as the client's channel handler does. All must give the same frames and end the same way, only
/// ``RESPParsingError`` may be thrown, and every frame must be walkable through the whole public API. Any violation
/// traps, which libFuzzer records as a finding with the input that caused it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let control = input[0]
    let stream = Array(input.dropFirst())
    let limits = control & 1 == 0 ? RESPLimits.default : FuzzRun.smallLimits

    let whole = FuzzRun.decode(stream, cuts: [], limits: limits)
    var random = FuzzRandom(seed: UInt64(control) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(stream.count))
    let cuts = FuzzRun.cuts(count: Int(control >> 5), length: stream.count, random: &random)
    let split = FuzzRun.decode(stream, cuts: cuts, limits: limits)
    FuzzRun.check(whole == split, "split at \(cuts) decodes differently:\n\(whole)\nvs\n\(split)")
    let processed = FuzzRun.process(stream, cuts: cuts, limits: limits)
    FuzzRun.check(whole == processed, "NIO's processor at \(cuts) decodes differently:\n\(whole)\nvs\n\(processed)")

    for frame in whole.frames {
        FuzzRun.exercise(frame, limits: limits)
    }
    return 0
}
