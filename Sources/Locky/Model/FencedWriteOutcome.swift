/// The outcome of a fenced write (see ``LockClient/fencedWrite(_:to:fencingToken:)-(ByteBuffer,_,_)``).
public enum FencedWriteOutcome: Sendable, Hashable {
    /// The value was stored; the token became (or stayed) the highest seen.
    case accepted
    /// A higher token was seen before: the writer is a stale holder and nothing was changed.
    case rejected(highestToken: Int64)
}
