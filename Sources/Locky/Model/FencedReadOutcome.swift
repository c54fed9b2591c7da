/// The outcome of a token-checked read (see ``LockClient/fencedRead(_:fencingToken:)``).
public enum FencedReadOutcome: Sendable, Hashable {
    /// The key's fence now holds the token (writes with older tokens are refused from here on);
    /// the value stored, or nil when there is none.
    case read(FencedValue?)
    /// A higher token was seen before: the reader is a stale holder; nothing was changed.
    case rejected(highestToken: Int64)
}
