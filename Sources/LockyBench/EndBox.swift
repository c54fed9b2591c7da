import Synchronization

/// How a holding ended (its fencing tokens, end of the body, validity then), shared between a `withLock`
/// body and the code after it.
final class EndBox: Sendable {
    typealias End = (tokens: [Int64], bodyEnd: Int64, validUntil: Int64)
    private let end = Mutex<End?>(nil)

    func set(_ value: End) { end.withLock { $0 = value } }
    var value: End? { end.withLock { $0 } }
}
