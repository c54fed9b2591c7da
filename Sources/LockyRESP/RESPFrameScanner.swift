import NIOCore

/// Validates one RESP frame in place and finds where it ends, without copying the bytes.
///
/// The scan is a loop over elements with an explicit stack of open aggregates (``RESPScanProgress``), so nesting
/// never grows the call stack, and a scan that runs out of bytes can resume where it stopped once more arrive.
/// The depth is checked against ``RESPLimits/maximumDepth`` before an aggregate is entered.
struct RESPFrameScanner {
    /// The bytes the frame may occupy: at most ``RESPLimits/maximumFrameLength`` of those received.
    let bytes: UnsafeRawBufferPointer
    let limits: RESPLimits
    /// Whether bytes were received beyond the longest frame allowed.
    private let truncated: Bool

    init(bytes: UnsafeRawBufferPointer, limits: RESPLimits) {
        // Only the first bytes count, so that the outcome never depends on how the stream was cut into reads.
        let allowed = max(limits.maximumFrameLength, 0)
        self.truncated = bytes.count > allowed
        self.bytes = truncated ? UnsafeRawBufferPointer(rebasing: bytes[..<allowed]) : bytes
        self.limits = limits
    }

    /// Scans on from `progress`.
    /// - Returns: The length of the frame, or nil when the bytes end before it does; `progress` then records where to
    ///   resume once more bytes follow the same ones.
    func scan(_ progress: inout RESPScanProgress) throws(RESPParsingError) -> Int? {
        if let end = try scanAllowedBytes(&progress) { return end }
        // Incomplete within the allowed length while more bytes are there: the frame is too long.
        guard !truncated else { throw RESPParsingError(code: .frameLengthLimitExceeded, offset: bytes.count) }
        return nil
    }

    private func scanAllowedBytes(_ progress: inout RESPScanProgress) throws(RESPParsingError) -> Int? {
        while true {
            let start = progress.position
            guard start < bytes.count else { return nil }
            guard let type = RESPTypeIdentifier(rawValue: bytes[start]) else {
                throw RESPParsingError(code: .invalidTypeIdentifier, offset: start)
            }
            let lineStart = start + 1
            guard let lineEnd = try findLineEnd(from: lineStart) else { return nil }
            let line = lineStart..<lineEnd
            let next = lineEnd + 2
            let depth = progress.depth

            let end: Int
            switch type {
            case .simpleString, .simpleError:
                end = next
            case .integer:
                guard RESPASCII.parseInt64(bytes, line) != nil else {
                    throw RESPParsingError(code: .invalidInteger, offset: lineStart)
                }
                end = next
            case .bigNumber:
                guard RESPASCII.isDecimalInteger(bytes, line) else {
                    throw RESPParsingError(code: .invalidInteger, offset: lineStart)
                }
                end = next
            case .double:
                guard RESPASCII.isDouble(bytes, line) else {
                    throw RESPParsingError(code: .invalidDouble, offset: lineStart)
                }
                end = next
            case .boolean:
                guard line.count == 1, bytes[lineStart] == UInt8(ascii: "t") || bytes[lineStart] == UInt8(ascii: "f")
                else {
                    throw RESPParsingError(code: .invalidBoolean, offset: lineStart)
                }
                end = next
            case .null:
                guard line.isEmpty else { throw RESPParsingError(code: .missingCRLF, offset: lineStart) }
                end = next
            case .bulkString, .bulkError, .verbatimString:
                guard let bulkEnd = try scanBulk(type: type, line: line, payloadStart: next) else { return nil }
                end = bulkEnd
            case .array, .set, .push, .map, .attribute:
                if let elements = try aggregateSize(type: type, start: start, line: line, depth: depth) {
                    let level = RESPScanProgress.Level(remaining: elements, depth: depth + 1, isAttribute: type == .attribute)
                    if let frameEnd = progress.enter(level, next: next) { return frameEnd }
                    continue
                }
                end = next  // a RESP2 null array
            }
            if let frameEnd = progress.finishValue(end: end) { return frameEnd }
        }
    }

    /// The number of values inside an aggregate (keys and values for a map), or nil for a null array.
    private func aggregateSize(
        type: RESPTypeIdentifier,
        start: Int,
        line: Range<Int>,
        depth: Int
    ) throws(RESPParsingError) -> Int? {
        let count = try parseLength(line, allowsNull: type == .array)
        if count < 0 { return nil }
        guard count <= limits.maximumAggregateCount else {
            throw RESPParsingError(code: .aggregateCountLimitExceeded, offset: line.lowerBound)
        }
        guard depth < limits.maximumDepth else {
            throw RESPParsingError(code: .depthLimitExceeded, offset: start)
        }
        guard type == .map || type == .attribute else { return count }
        let (doubled, overflow) = count.multipliedReportingOverflow(by: 2)
        guard !overflow else { throw RESPParsingError(code: .invalidLength, offset: line.lowerBound) }
        return doubled
    }

    private func scanBulk(type: RESPTypeIdentifier, line: Range<Int>, payloadStart: Int) throws(RESPParsingError) -> Int? {
        let length = try parseLength(line, allowsNull: type == .bulkString)
        if length < 0 { return payloadStart }
        // Checked on the header alone, so that a huge announced length fails before any payload arrives.
        guard length <= limits.maximumBulkLength else {
            throw RESPParsingError(code: .bulkLengthLimitExceeded, offset: line.lowerBound)
        }
        if type == .verbatimString {
            guard length >= 4 else { throw RESPParsingError(code: .invalidVerbatimString, offset: line.lowerBound) }
            let colon = payloadStart + 3
            if colon < bytes.count, bytes[colon] != RESPASCII.colon {
                throw RESPParsingError(code: .invalidVerbatimString, offset: colon)
            }
        }
        // Compared by subtraction: `payloadStart + length` could overflow with a configured unlimited bulk length.
        guard length <= bytes.count - payloadStart else { return nil }
        let payloadEnd = payloadStart + length
        return try expectCRLF(at: payloadEnd)
    }

    /// Finds the CR of the line starting at `start`, checking the LF that must follow it.
    private func findLineEnd(from start: Int) throws(RESPParsingError) -> Int? {
        let available = bytes.count - start
        guard available > 0 else { return nil }
        let maximum = limits.maximumLineLength
        // One byte more than the longest allowed line, where its CR may sit.
        let searched = maximum >= available ? available : maximum + 1
        guard let cr = bytes[start..<(start + searched)].firstIndex(of: RESPASCII.cr) else {
            if available > maximum {
                throw RESPParsingError(code: .lineLengthLimitExceeded, offset: start + maximum)
            }
            return nil
        }
        guard cr + 1 < bytes.count else { return nil }
        guard bytes[cr + 1] == RESPASCII.lf else { throw RESPParsingError(code: .missingCRLF, offset: cr + 1) }
        return cr
    }

    private func expectCRLF(at offset: Int) throws(RESPParsingError) -> Int? {
        guard offset < bytes.count else { return nil }
        guard bytes[offset] == RESPASCII.cr else { throw RESPParsingError(code: .missingCRLF, offset: offset) }
        guard offset + 1 < bytes.count else { return nil }
        guard bytes[offset + 1] == RESPASCII.lf else { throw RESPParsingError(code: .missingCRLF, offset: offset + 1) }
        return offset + 2
    }

    /// Parses a non-negative length, or `-1` (returned as -1) where null is allowed.
    private func parseLength(_ line: Range<Int>, allowsNull: Bool) throws(RESPParsingError) -> Int {
        guard !line.isEmpty else { throw RESPParsingError(code: .invalidLength, offset: line.lowerBound) }
        if bytes[line.lowerBound] == RESPASCII.minus {
            guard allowsNull, line.count == 2, bytes[line.lowerBound + 1] == UInt8(ascii: "1") else {
                throw RESPParsingError(code: .invalidLength, offset: line.lowerBound)
            }
            return -1
        }
        var value = 0
        for index in line {
            let digit = bytes[index] &- RESPASCII.zero
            guard digit < 10 else { throw RESPParsingError(code: .invalidLength, offset: index) }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.addingReportingOverflow(Int(digit))
            guard !overflow1, !overflow2 else { throw RESPParsingError(code: .invalidLength, offset: index) }
            value = next
        }
        return value
    }
}

extension RESPFrameScanner {
    /// Length of the value (with its leading attributes) at the front of already-validated bytes.
    static func valueLength(in buffer: ByteBuffer) -> Int? {
        length(in: buffer, progress: RESPScanProgress())
    }

    /// Length of the single element (an attribute alone, without its value) at the front of already-validated bytes.
    static func elementLength(in buffer: ByteBuffer) -> Int? {
        length(in: buffer, progress: RESPScanProgress(elementOnly: true))
    }

    private static func length(in buffer: ByteBuffer, progress: RESPScanProgress) -> Int? {
        var progress = progress
        return buffer.withUnsafeReadableBytes { bytes in
            try? RESPFrameScanner(bytes: bytes, limits: .unlimited).scan(&progress)
        }
    }
}
