import Locky

/// Ends COMMAND before its lease's validity runs out unrenewed, so that it is gone when another
/// process may take the lock. Waiting for the loss to be noticed would let COMMAND run on beside
/// the next holder for up to `--kill-after`: SIGTERM comes `margin` before the validity ends,
/// SIGKILL at its end.
enum ValidityWatchdog {
    /// Returns true once it terminated `child`; false when cancelled first (COMMAND ended).
    static func watch(_ lease: Lease, child: SpawnedCommand, margin: Duration) async -> Bool {
        while true {
            let validUntil = lease.validUntil
            do {
                try await Task.sleep(until: validUntil - margin, clock: .continuous)
            } catch {
                return false
            }
            // Renewed meanwhile: watch the new validity. Otherwise the renewals have been
            // failing for two thirds of a TTL: end COMMAND within what is left.
            if lease.validUntil > validUntil { continue }
            child.terminate(grace: lease.remaining)
            return true
        }
    }

    /// How long before the validity's end COMMAND gets SIGTERM: the grace period, but at most a
    /// third of the TTL, so that a renewal on time (at a third) always comes first.
    static func margin(grace: Duration, ttl: Duration) -> Duration {
        min(grace, ttl / 3)
    }
}
