import LockyRESP
import NIOCore

/// The decoding, comparison and walking that ``fuzzOneInput(_:_:)`` does for one input.
enum FuzzRun {
    /// Small limits, so that random input reaches every limit often.
    static let smallLimits = RESPLimits(
        maximumDepth: 4,
        maximumBulkLength: 64,
        maximumAggregateCount: 8,
        maximumLineLength: 32,
        maximumFrameLength: 256
    )

    /// Everything a decoding run produced.
    struct Outcome: Equatable, CustomStringConvertible {
        /// The frames, as tokens.
        var frames: [RESPToken] = []
        /// The error that ended the run, if any.
        var error: RESPParsingError?
        /// The bytes of the stream after the last frame (an incomplete frame, or everything from the failing one on).
        var leftover: [UInt8] = []

        var description: String {
            "\(frames.count) frames, error \(error.map { "\($0)" } ?? "none"), \(leftover.count) bytes left"
        }
    }

    /// Up to `count` distinct cut points strictly inside `0..<length`, ascending.
    static func cuts(count: Int, length: Int, random: inout FuzzRandom) -> [Int] {
        guard length > 1 else { return [] }
        var points = Set<Int>()
        for _ in 0..<count {
            points.insert(Int(random.next() % UInt64(length - 1)) + 1)
        }
        return points.sorted()
    }

    /// Feeds `stream` to a fresh decoder in pieces ending at `cuts`, decoding after each piece and at the end.
    static func decode(_ stream: [UInt8], cuts: [Int], limits: RESPLimits) -> Outcome {
        var decoder = RESPTokenDecoder(limits: limits)
        var buffer = ByteBuffer()
        var outcome = Outcome()
        var start = 0
        for end in cuts + [stream.count] {
            buffer.writeBytes(stream[start..<end])
            start = end
            if !drain(&decoder, &buffer, into: &outcome, last: end == stream.count) { break }
        }
        // Counted from the stream, not the buffer: after an error the split run has not seen the rest.
        let consumed = outcome.frames.reduce(0) { $0 + $1.base.readableBytes }
        outcome.leftover = Array(stream[consumed...])
        return outcome
    }

    /// Feeds `stream` in pieces ending at `cuts` through NIO's `NIOSingleStepByteToMessageProcessor`, the way the
    /// client's channel handler does (it compacts its buffer between reads, under the decoder's resumed scan).
    static func process(_ stream: [UInt8], cuts: [Int], limits: RESPLimits) -> Outcome {
        let processor = NIOSingleStepByteToMessageProcessor(RESPTokenDecoder(limits: limits), maximumBufferSize: nil)
        var outcome = Outcome()
        var start = 0
        do {
            for end in cuts + [stream.count] {
                try processor.process(buffer: ByteBuffer(bytes: stream[start..<end])) { outcome.frames.append($0) }
                start = end
            }
            try processor.finishProcessing(seenEOF: true) { outcome.frames.append($0) }
        } catch let error as RESPParsingError {
            outcome.error = error
        } catch {
            check(false, "untyped error from the processor: \(error)")
        }
        let consumed = outcome.frames.reduce(0) { $0 + $1.base.readableBytes }
        outcome.leftover = Array(stream[consumed...])
        return outcome
    }

    /// Decodes every complete frame in `buffer`; false once an error ended the stream.
    private static func drain(
        _ decoder: inout RESPTokenDecoder,
        _ buffer: inout ByteBuffer,
        into outcome: inout Outcome,
        last: Bool
    ) -> Bool {
        while true {
            let before = buffer
            do {
                let token = last ? try decoder.decodeLast(buffer: &buffer, seenEOF: true) : try decoder.decode(buffer: &buffer)
                guard let token else {
                    check(buffer == before, "nil consumed bytes")
                    return true
                }
                let consumed = buffer.readerIndex - before.readerIndex
                check(consumed > 0, "a frame of no bytes")
                check(before.getSlice(at: before.readerIndex, length: consumed) == token.base, "frame bytes differ")
                outcome.frames.append(token)
            } catch let error as RESPParsingError {
                check(buffer == before, "a throw consumed bytes")
                check(error.offset >= 0 && error.offset <= buffer.readableBytes, "offset out of range: \(error)")
                outcome.error = error
                return false
            } catch {
                check(false, "untyped error \(error)")
            }
        }
    }

    /// Walks a frame through the public API: values, aggregates, attributes, rendering, decoding to every type.
    static func exercise(_ token: RESPToken, limits: RESPLimits) {
        // A frame re-parses to itself, alone, and every strict prefix of it is incomplete.
        var again = token.base
        let reparsed = Result { () throws(RESPParsingError) in try RESPToken(consuming: &again, limits: limits) }
        check(reparsed == .success(token) && again.readableBytes == 0, "frame does not re-parse to itself")
        if token.base.readableBytes > 1 {
            var prefix = token.base
            prefix.moveWriterIndex(to: prefix.writerIndex - 1)
            let partial = Result { () throws(RESPParsingError) in try RESPToken(consuming: &prefix, limits: limits) }
            check(partial == .success(nil), "a strict prefix of a frame is not incomplete")
        }
        walk(token, depth: 0)
        _ = token.description
        _ = token.serverError
        _ = token.typeIdentifier
        if let attributes = token.attributes {
            for entry in attributes {
                walk(entry.key, depth: 1)
                walk(entry.value, depth: 1)
            }
        }
        _ = try? token.decode(as: String.self)
        _ = try? token.decode(as: ByteBuffer.self)
        _ = try? token.decode(as: Int.self)
        _ = try? token.decode(as: Int64.self)
        _ = try? token.decode(as: Double.self)
        _ = try? token.decode(as: Bool.self)
        _ = try? token.decode(as: String?.self)
        _ = try? token.decode(as: [String].self)
        _ = try? token.decode(as: [Int64?].self)
        _ = try? token.decode(as: [[RESPToken]].self)
    }

    private static func walk(_ token: RESPToken, depth: Int) {
        check(depth < 64, "a value nested deeper than any limit")
        switch token.value {
        case .array(let elements), .set(let elements), .push(let elements):
            var seen = 0
            for element in elements {
                walk(element, depth: depth + 1)
                seen += 1
            }
            check(seen == elements.count, "an aggregate yields \(seen) of \(elements.count) elements")
        case .map(let entries), .attribute(let entries):
            var seen = 0
            for entry in entries {
                walk(entry.key, depth: depth + 1)
                walk(entry.value, depth: depth + 1)
                seen += 1
            }
            check(seen == entries.count, "a map yields \(seen) of \(entries.count) entries")
        case .simpleString(let bytes), .simpleError(let bytes), .bulkString(let bytes), .bigNumber(let bytes),
            .bulkError(let bytes), .verbatimString(let bytes):
            _ = bytes.readableBytes
        case .number, .null, .boolean, .double:
            break
        }
    }

    /// Traps with `message` unless `condition` holds: libFuzzer reports the trap with the input.
    static func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition {
            fatalError("RESP fuzz invariant violated: \(message())")
        }
    }
}
