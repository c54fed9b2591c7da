/// A resource name, owner or key compared byte for byte (its UTF-8), as Redis compares them.
///
/// Swift's `String` equality is canonical equivalence: "é" written as U+00E9 and as "e" then
/// U+0301 are equal Strings, yet two different Redis keys. Every table that must agree with
/// Redis on "the same resource" or "the same owner" uses this as its key, so the memory
/// backend, local wait queues and Redlock's tally never merge two locks Redis keeps apart.
struct ExactName: Hashable, Sendable {
    /// The name.
    let string: String

    init(_ string: String) {
        self.string = string
    }

    static func == (lhs: ExactName, rhs: ExactName) -> Bool {
        equal(lhs.string, rhs.string)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(string.utf8.count)
        let hashed: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            for byte in string.utf8 { hasher.combine(byte) }
        }
    }

    /// Whether `lhs` and `rhs` have the same UTF-8 bytes.
    static func equal(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.count == rhs.utf8.count && lhs.utf8.elementsEqual(rhs.utf8)
    }
}
