/// The errors for keys of a resource that hold something Locky did not write there (another
/// application's value, or a fenced value written under a lock or fence key). Locky never
/// overwrites such a key, and the call that finds it changes nothing.
extension LockError {
    /// The lock key holds a value of another type: it is no lock, and cannot be taken.
    static func foreignLockValue(_ resource: String?, during operation: String? = nil) -> LockError {
        var error = LockError(
            .serverError,
            (operation.map { "\($0): " } ?? "") + "the lock key holds a value of another type; Locky will not overwrite it",
            resource: resource)
        error.foreignKey = true
        return error
    }

    /// The fence key holds no fencing counter (a string that is no integer, or a value of another
    /// type): the next token is unknown, so the resource cannot be taken.
    static func foreignFenceValue(_ resource: String?, during operation: String? = nil) -> LockError {
        var error = LockError(
            .serverError,
            (operation.map { "\($0): " } ?? "") + "the fence key holds no fencing counter; Locky will not overwrite it",
            resource: resource)
        error.foreignKey = true
        return error
    }
}
