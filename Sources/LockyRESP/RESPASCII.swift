/// Byte-level helpers for the ASCII parts of RESP, shared by the validating scanner and the lazy decoders.
enum RESPASCII {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let minus: UInt8 = 45
    static let plus: UInt8 = 43
    static let dot: UInt8 = 46
    static let zero: UInt8 = 48
    static let colon: UInt8 = 58

    /// Parses `[+-]?[0-9]+` as an Int64; nil on any other text or on overflow.
    static func parseInt64(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        var index = range.lowerBound
        guard index < range.upperBound else { return nil }
        var negative = false
        if bytes[index] == minus || bytes[index] == plus {
            negative = bytes[index] == minus
            index += 1
            guard index < range.upperBound else { return nil }
        }
        // Accumulate negatively so that Int64.min parses without overflow.
        var value: Int64 = 0
        while index < range.upperBound {
            let digit = bytes[index] &- zero
            guard digit < 10 else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.subtractingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = next
            index += 1
        }
        if negative { return value }
        let (positive, overflow) = (0 as Int64).subtractingReportingOverflow(value)
        return overflow ? nil : positive
    }

    /// Whether the text is `[+-]?[0-9]+`, of any length (big numbers).
    static func isDecimalInteger(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var index = range.lowerBound
        if index < range.upperBound, bytes[index] == minus || bytes[index] == plus { index += 1 }
        guard index < range.upperBound else { return false }
        return bytes[index..<range.upperBound].allSatisfy { $0 &- zero < 10 }
    }

    /// Whether the text is a RESP3 double: `[+-]?(inf|nan|digits[.digits][(e|E)[+-]digits])`.
    static func isDouble(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var index = range.lowerBound
        if index < range.upperBound, bytes[index] == minus || bytes[index] == plus { index += 1 }
        let rest = bytes[index..<range.upperBound]
        if rest.elementsEqual("inf".utf8) || rest.elementsEqual("nan".utf8) { return true }
        var mantissaDigits = 0
        while index < range.upperBound, bytes[index] &- zero < 10 {
            mantissaDigits += 1
            index += 1
        }
        if index < range.upperBound, bytes[index] == dot {
            index += 1
            while index < range.upperBound, bytes[index] &- zero < 10 {
                mantissaDigits += 1
                index += 1
            }
        }
        guard mantissaDigits > 0 else { return false }
        if index < range.upperBound, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < range.upperBound, bytes[index] == minus || bytes[index] == plus { index += 1 }
            var exponentDigits = 0
            while index < range.upperBound, bytes[index] &- zero < 10 {
                exponentDigits += 1
                index += 1
            }
            guard exponentDigits > 0 else { return false }
        }
        return index == range.upperBound
    }

    /// Number of decimal digits of `value` (at least 1).
    static func decimalDigitCount(_ value: UInt64) -> Int {
        var count = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            count += 1
        }
        return count
    }
}
