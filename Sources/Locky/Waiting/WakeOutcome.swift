/// How a wait on a ``WakeSignal`` ended.
enum WakeOutcome: Sendable {
    case signalled
    case timedOut
    case cancelled
}
