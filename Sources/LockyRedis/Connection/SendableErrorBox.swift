/// Carries a non-`Sendable` error's description across concurrency domains.
///
/// NIO hands channel errors over as `any Error`; we keep their text, which is all a caller can
/// use, and drop the value itself.
struct SendableErrorBox: Error, Sendable, CustomStringConvertible {
    let description: String

    init(_ error: any Error) {
        self.description = String(describing: error)
    }
}
