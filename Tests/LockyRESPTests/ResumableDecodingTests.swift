import LockyRESP
import NIOCore
import Testing

/// The decoder resumes the scan of an incomplete frame where it stopped: a large reply that arrives in many reads is
/// scanned once. It used to be scanned from its first byte on every read, so a 7 MB array of 65,536 bulk strings cost
/// 11 s on the event loop (quadratic), and a hostile server could stall the client with a slow, huge reply.
@Suite("Resumable decoding")
struct ResumableDecodingTests {
    /// Feeds `stream` to a fresh processor in pieces of `pieceSize` bytes; returns the frames and the time taken.
    private static func decode(_ stream: [UInt8], pieceSize: Int, limits: RESPLimits = .default) throws -> (
        frames: [RESPToken], elapsed: Duration
    ) {
        let processor = NIOSingleStepByteToMessageProcessor(RESPTokenDecoder(limits: limits))
        var frames: [RESPToken] = []
        let start = ContinuousClock.now
        var offset = 0
        while offset < stream.count {
            let end = min(offset + pieceSize, stream.count)
            try processor.process(buffer: ByteBuffer(bytes: stream[offset..<end])) { frames.append($0) }
            offset = end
        }
        return (frames, ContinuousClock.now - start)
    }

    @Test("a 200,000-element array in 256-byte pieces decodes in linear time")
    func largeFlatArray() throws {
        let count = 200_000
        let stream = Array("*\(count)\r\n".utf8) + Array(repeating: Array(":1\r\n".utf8), count: count).flatMap { $0 }
        let (frames, elapsed) = try Self.decode(stream, pieceSize: 256)
        #expect(frames.count == 1)
        #expect(frames.first?.base.readableBytes == stream.count)
        if case .array(let elements) = frames.first?.value {
            #expect(elements.count == count)
        } else {
            Issue.record("not an array")
        }
        // 3,125 pieces: rescanning from the start each time walked about 300 million elements (minutes in debug).
        #expect(elapsed < .seconds(3), "\(elapsed)")
    }

    @Test("nested aggregates and attributes resume at every depth")
    func nestedLargeReply() throws {
        // An attribute, then a map whose values are arrays of bulk strings: every level is open at some cut.
        var text = "|1\r\n+meta\r\n:7\r\n%60\r\n"
        for key in 0..<60 {
            text += "$4\r\nk\(String(key + 100))\r\n*50\r\n"
            text += String(repeating: "$5\r\nvalue\r\n", count: 50)
        }
        let stream = Array(text.utf8) + Array("+after\r\n".utf8)
        let whole = try Self.decode(stream, pieceSize: stream.count).frames
        #expect(whole.count == 2)
        for pieceSize in [1, 3, 64, 1000] {
            let (frames, elapsed) = try Self.decode(stream, pieceSize: pieceSize)
            #expect(frames == whole, "pieces of \(pieceSize)")
            #expect(elapsed < .seconds(3), "pieces of \(pieceSize): \(elapsed)")
        }
    }

    @Test("an error is found at the same offset however the bytes arrive", arguments: [1, 2, 7, 100])
    func errorsAreSplitIndependent(_ pieceSize: Int) throws {
        let limits = RESPLimits(maximumDepth: 3)
        let cases = [
            "*2\r\n*1\r\n:1\r\n*1\r\n*1\r\n*1\r\n:2\r\n",  // too deep, in the second element
            "%2\r\n+a\r\n:1\r\n+b\r\n:x\r\n",  // a bad integer as the last map value
            "*3\r\n$3\r\nabc\r\n|1\r\n+k\r\n:1\r\n=3\r\nabc\r\n",  // a verbatim string without format, after an attribute
        ]
        for text in cases {
            let stream = Array(text.utf8)
            var whole: RESPParsingError?
            do { _ = try Self.decode(stream, pieceSize: stream.count, limits: limits) } catch let error as RESPParsingError {
                whole = error
            }
            let expected = try #require(whole, "\(text.debugDescription)")
            #expect(throws: expected) { _ = try Self.decode(stream, pieceSize: pieceSize, limits: limits) }
        }
    }

    @Test("handed other bytes than before, the decoder starts over instead of trusting its progress")
    func otherBytesRestart() throws {
        var decoder = RESPTokenDecoder()
        var partial = ByteBuffer(string: "*3\r\n:1\r\n:2\r\n")
        #expect(try decoder.decode(buffer: &partial) == nil)
        // A shorter buffer cannot be the same stream.
        var other = ByteBuffer(string: ":5\r\n")
        let token = try #require(try decoder.decode(buffer: &other))
        #expect(literal(of: token) == .number(5))
        // New limits apply from the first byte of the frame.
        var deep = ByteBuffer(string: "*1\r\n*1\r\n")
        #expect(try decoder.decode(buffer: &deep) == nil)
        decoder.limits = RESPLimits(maximumDepth: 1)
        deep.writeString(":1\r\n")
        #expect(throws: RESPParsingError(code: .depthLimitExceeded, offset: 4)) { _ = try decoder.decode(buffer: &deep) }
    }
}
