import LockyRESP
import LockyTestSupport
import NIOCore
import Testing

@Suite("Fuzzing")
struct FuzzTests {
    /// Bytes that steer mutations toward the interesting corners of the grammar.
    private static let interestingBytes: [UInt8] = Array("+-:$*_#,(!=%|~>\r\n0123456789tf.e:".utf8) + [0, 255]

    /// Small limits so that random input reaches them often.
    private static let limits = RESPLimits(
        maximumDepth: 6,
        maximumBulkLength: 512,
        maximumAggregateCount: 16,
        maximumLineLength: 64
    )

    @Test("random and mutated byte streams never crash, hang or mis-consume", arguments: [0x5EED_0001, 0xC0FF_EE42] as [UInt64])
    func fuzz(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let corpus = RESPFixtures.frames.map(\.bytes)
        let deadline = ContinuousClock.now + .milliseconds(1500)
        var iteration = 0
        var outcomes = (tokens: 0, incomplete: 0, errors: 0)
        while iteration < 100_000, ContinuousClock.now < deadline {
            iteration += 1
            let input = Self.input(&random, corpus: corpus)
            let limits = iteration.isMultiple(of: 2) ? Self.limits : .default
            var buffer = ByteBuffer(bytes: input)
            // Typed throws: anything but a RESPParsingError would not compile, let alone be caught here.
            let outcome = Result { () throws(RESPParsingError) in try RESPToken(consuming: &buffer, limits: limits) }
            switch outcome {
            case .success(let token?):
                outcomes.tokens += 1
                try Self.checkToken(
                    token, consumed: input.count - buffer.readableBytes, input: input, limits: limits, random: &random)
            case .success(nil):
                outcomes.incomplete += 1
                try #require(buffer.readerIndex == 0, "nil must not consume; seed \(seed) iteration \(iteration)")
            case .failure(let error):
                outcomes.errors += 1
                try #require(error.offset >= 0 && error.offset <= input.count, "offset out of range: \(error)")
                try #require(buffer.readerIndex == 0, "a throw must not consume; seed \(seed) iteration \(iteration)")
            }
        }
        // The generator must exercise every outcome, or the test proves little.
        #expect(outcomes.tokens > 0 && outcomes.incomplete > 0 && outcomes.errors > 0, "\(iteration) iterations: \(outcomes)")
    }

    /// A token's bytes are a prefix of the input, re-parse to the same token, and every prefix of them is incomplete.
    private static func checkToken(
        _ token: RESPToken, consumed: Int, input: [UInt8], limits: RESPLimits, random: inout SplitMix64
    ) throws {
        let frame = bytes(of: token.base)
        try #require(frame.count == consumed)
        try #require(frame[...] == input[..<consumed])
        var again = token.base
        let reparsed = try #require(try RESPToken(consuming: &again, limits: limits))
        try #require(reparsed == token)
        try #require(again.readableBytes == 0)
        let split = frame.count > 1 ? Int.random(in: 1..<frame.count, using: &random) : 0
        try #require(try parse(Array(frame[..<split]), limits: limits) == nil)
        // Walking the whole value must not trap.
        _ = literal(of: token)
        _ = token.description
        _ = token.serverError
        _ = token.attributes
    }

    private static func input(_ random: inout SplitMix64, corpus: [[UInt8]]) -> [UInt8] {
        switch random.next() % 4 {
        case 0:
            // Pure noise, biased toward grammar bytes.
            return (0..<Int.random(in: 0...48, using: &random)).map { _ in byte(&random) }
        default:
            // A valid frame, or several, then a few mutations.
            var bytes = corpus.randomElement(using: &random) ?? []
            if random.next() % 4 == 0 { bytes += corpus.randomElement(using: &random) ?? [] }
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                mutate(&bytes, &random)
            }
            return bytes
        }
    }

    private static func byte(_ random: inout SplitMix64) -> UInt8 {
        random.next() % 2 == 0
            ? interestingBytes.randomElement(using: &random) ?? 0 : UInt8(truncatingIfNeeded: random.next())
    }

    private static func mutate(_ bytes: inout [UInt8], _ random: inout SplitMix64) {
        guard !bytes.isEmpty else {
            bytes.append(byte(&random))
            return
        }
        let index = Int.random(in: 0..<bytes.count, using: &random)
        switch random.next() % 5 {
        case 0: bytes[index] ^= UInt8(1) << (random.next() % 8)
        case 1: bytes[index] = byte(&random)
        case 2: bytes.insert(byte(&random), at: index)
        case 3: bytes.remove(at: index)
        default: bytes.removeSubrange(index...)
        }
    }
}
