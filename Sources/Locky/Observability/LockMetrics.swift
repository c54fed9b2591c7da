import CoreMetrics
import Metrics

/// Locky's metrics, created with an injected factory. The one dimension is the backend, never
/// resource names (unbounded cardinality).
struct LockMetrics: Sendable {
    let acquired: Counter
    let busy: Counter
    let released: Counter
    let extended: Counter
    let expiredOnRelease: Counter
    let acquireLatency: Timer

    init(factory: any MetricsFactory, backend: String) {
        let dimensions = [("backend", backend)]
        acquired = Counter(label: "locky_acquired_total", dimensions: dimensions, factory: factory)
        busy = Counter(label: "locky_busy_total", dimensions: dimensions, factory: factory)
        released = Counter(label: "locky_released_total", dimensions: dimensions, factory: factory)
        extended = Counter(label: "locky_extended_total", dimensions: dimensions, factory: factory)
        expiredOnRelease = Counter(label: "locky_expired_on_release_total", dimensions: dimensions, factory: factory)
        acquireLatency = Timer(label: "locky_acquire_duration_seconds", dimensions: dimensions, factory: factory)
    }
}
