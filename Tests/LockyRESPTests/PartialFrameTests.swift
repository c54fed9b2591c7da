import LockyRESP
import NIOCore
import Testing

@Suite("Partial frames")
struct PartialFrameTests {
    @Test("every split point gives the same token", arguments: RESPFixtures.frames)
    func everySplitPoint(_ frame: FrameCase) throws {
        let whole = try #require(try parse(frame.bytes))
        for split in 0..<frame.bytes.count {
            // A frame already consumed ahead of it puts the reader index off zero, as on a live connection.
            var buffer = ByteBuffer(string: "+prev\r\n")
            _ = try RESPToken(consuming: &buffer)
            buffer.writeBytes(frame.bytes[..<split])
            let readerIndex = buffer.readerIndex
            #expect(try RESPToken(consuming: &buffer) == nil, "split at \(split)")
            #expect(buffer.readerIndex == readerIndex, "split at \(split) consumed bytes")
            buffer.writeBytes(frame.bytes[split...])
            let token = try #require(try RESPToken(consuming: &buffer), "split at \(split)")
            #expect(token == whole, "split at \(split)")
            #expect(literal(of: token) == frame.expected, "split at \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test("byte by byte, the token appears on the last byte", arguments: RESPFixtures.frames)
    func byteByByte(_ frame: FrameCase) throws {
        var buffer = ByteBuffer()
        var tokens: [RESPToken] = []
        for (index, byte) in frame.bytes.enumerated() {
            buffer.writeInteger(byte)
            if let token = try RESPToken(consuming: &buffer) {
                #expect(index == frame.bytes.count - 1, "token after \(index + 1) of \(frame.bytes.count) bytes")
                tokens.append(token)
            }
        }
        #expect(tokens.count == 1)
        #expect(tokens.first.map(literal(of:)) == frame.expected)
    }

    @Test("the NIO decoder yields every frame of a stream fed in small chunks")
    func decoderOverChunks() throws {
        let stream = RESPFixtures.frames.flatMap(\.bytes)
        for chunkSize in [1, 2, 3, 7, 64] {
            let processor = NIOSingleStepByteToMessageProcessor(RESPTokenDecoder())
            var decoded: [RESPToken.Literal] = []
            var offset = 0
            while offset < stream.count {
                let end = min(offset + chunkSize, stream.count)
                try processor.process(buffer: ByteBuffer(bytes: stream[offset..<end])) { token in
                    decoded.append(literal(of: token))
                }
                offset = end
            }
            #expect(decoded == RESPFixtures.frames.map(\.expected), "chunk size \(chunkSize)")
        }
    }
}
