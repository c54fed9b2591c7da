/// The answer to an all-or-nothing acquire.
public enum AcquireReply: Sendable, Hashable {
    /// Every resource was taken; one fencing token per resource, in order.
    case acquired(fencingTokens: [Int64])
    /// The resource at `index` is held by `holder`; nothing was taken.
    case busy(index: Int, holder: LockHolder)
}
