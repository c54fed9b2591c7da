/// The answer to an all-or-nothing extend.
public enum ExtendReply: Sendable, Hashable {
    /// Every resource was extended.
    case extended
    /// The resource at `index` is no longer ours: free (`holder` nil) or held by another.
    /// Nothing was extended.
    case lost(index: Int, holder: LockHolder?)
}
