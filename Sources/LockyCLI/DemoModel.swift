import Foundation
import Synchronization

/// What the demo has seen so far; fed by the events, read by the view.
final class DemoModel: Sendable {
    struct Acquisition {
        var worker: Int
        var resource: Int
        var token: Int64
        var acquiredAt: Int64
        var waited: Int64
        var releasedAt: Int64?
    }

    struct ResourceState {
        var holder: Int?
        var token: Int64 = 0
        var acquisitions = 0
        var handoffs = 0
        var lastReleasedAt: Int64?
        var lastReleasedBy: Int?
    }

    struct WorkerState {
        var waitingFor: Int?
        var holding: Int?
        var acquisitions = 0
        var finished = false
        var error: String?
    }

    struct State {
        var resources: [ResourceState]
        var workers: [WorkerState]
        var acquisitions: [Acquisition] = []
        var open: [Int: Int] = [:]
        var recent: [String] = []
        var finishedWorkers = 0
    }

    let settings: DemoSettings
    let backend: String
    let names: [String]
    private let started = monotonicNanoseconds()
    private let state: Mutex<State>

    init(settings: DemoSettings, backend: String) {
        self.settings = settings
        self.backend = backend
        self.names = demoResources(settings.resources)
        self.state = Mutex(
            State(
                resources: Array(repeating: ResourceState(), count: settings.resources),
                workers: Array(repeating: WorkerState(), count: settings.workers + 1)
            )
        )
    }

    /// Records an event; true once every worker has finished.
    func apply(_ event: DemoEvent) -> Bool {
        let names = self.names
        return state.withLock { state in
            switch event {
            case .waiting(let worker, let resource):
                guard state.workers.indices.contains(worker), state.resources.indices.contains(resource) else { break }
                state.workers[worker].waitingFor = resource
            case .acquired(let worker, let resource, let token, let at, let waited):
                guard state.workers.indices.contains(worker), state.resources.indices.contains(resource) else { break }
                var slot = state.resources[resource]
                if let releasedAt = slot.lastReleasedAt, let previous = slot.lastReleasedBy, at - waited < releasedAt,
                    previous != worker
                {
                    slot.handoffs += 1
                    let gap = Double(at - releasedAt) / 1e6
                    state.recent.append(
                        "\(names[resource])  worker-\(previous) → worker-\(worker)  token \(token)  gap \(String(format: "%.2f", gap)) ms"
                    )
                    if state.recent.count > 8 { state.recent.removeFirst(state.recent.count - 8) }
                }
                slot.holder = worker
                slot.token = max(slot.token, token)
                slot.acquisitions += 1
                state.resources[resource] = slot
                state.workers[worker].waitingFor = nil
                state.workers[worker].holding = resource
                state.workers[worker].acquisitions += 1
                state.open[worker] = state.acquisitions.count
                state.acquisitions.append(
                    Acquisition(worker: worker, resource: resource, token: token, acquiredAt: at, waited: waited)
                )
            case .released(let worker, let resource, let token, let at):
                guard state.workers.indices.contains(worker), state.resources.indices.contains(resource) else { break }
                if let index = state.open.removeValue(forKey: worker) { state.acquisitions[index].releasedAt = at }
                if state.resources[resource].holder == worker, state.resources[resource].token == token {
                    state.resources[resource].holder = nil
                }
                if (state.resources[resource].lastReleasedAt ?? 0) < at {
                    state.resources[resource].lastReleasedAt = at
                    state.resources[resource].lastReleasedBy = worker
                }
                state.workers[worker].holding = nil
            case .finished(let worker, let error):
                guard state.workers.indices.contains(worker), !state.workers[worker].finished else { break }
                state.workers[worker].finished = true
                state.workers[worker].holding = nil
                state.workers[worker].waitingFor = nil
                state.workers[worker].error = error
                state.finishedWorkers += 1
            }
            return state.finishedWorkers >= settings.workers
        }
    }

    private var elapsed: Double { Double(monotonicNanoseconds() - started) / 1e9 }

    /// One plain line for a pipe: time, acquisitions, each resource's holder and token.
    func progressLine() -> String {
        let names = self.names
        let elapsed = self.elapsed
        return state.withLock { state in
            var line = String(format: "t=%.1fs acquisitions=%d", elapsed, state.acquisitions.count)
            for (index, slot) in state.resources.enumerated() {
                line += " \(names[index])=\(slot.holder.map { "worker-\($0)" } ?? "-")(token \(slot.token))"
            }
            return line
        }
    }

    /// The live view: holders, tokens, workers, recent hand-offs.
    func renderScreen() -> String {
        let names = self.names
        let settings = self.settings
        let elapsed = min(self.elapsed, settings.seconds)
        let width = 30
        let done = Int((elapsed / settings.seconds * Double(width)).rounded(.down))
        return state.withLock { state in
            let end = Terminal.clearLine + "\n"
            var out = Terminal.home
            out += "\(Terminal.bold)locky demo\(Terminal.reset)  \(settings.workers) workers contend for "
            out += "\(settings.resources) resource\(settings.resources == 1 ? "" : "s") on \(backend)" + end
            out += "[" + String(repeating: "█", count: done) + String(repeating: "·", count: width - done) + "] "
            out += String(format: "%.1f / %.0f s", elapsed, settings.seconds)
            out += "   \(state.acquisitions.count) acquisitions" + end + end
            let nameWidth = max(8, names.map(\.count).max() ?? 8)
            out += Terminal.bold + pad("RESOURCE", nameWidth) + "  " + pad("HOLDER", 10) + "  " + pad("TOKEN", 6, right: true)
            out += "  " + pad("TAKEN", 6, right: true) + "  " + pad("HAND-OFFS", 9, right: true) + Terminal.reset + end
            for (index, slot) in state.resources.enumerated() {
                let holder = slot.holder.map { "\(Terminal.green)\(pad("worker-\($0)", 10))\(Terminal.reset)" } ?? pad("free", 10)
                out += pad(names[index], nameWidth) + "  " + holder + "  " + pad(String(slot.token), 6, right: true) + "  "
                out += pad(String(slot.acquisitions), 6, right: true) + "  " + pad(String(slot.handoffs), 9, right: true) + end
            }
            out += end + Terminal.bold + "WORKERS" + Terminal.reset + end
            for worker in 1..<state.workers.count {
                let info = state.workers[worker]
                let doing: String
                if let error = info.error {
                    doing = "\(Terminal.red)failed: \(error)\(Terminal.reset)"
                } else if info.finished {
                    doing = "\(Terminal.dim)done\(Terminal.reset)"
                } else if let holding = info.holding {
                    doing = "\(Terminal.green)holds \(names[holding])\(Terminal.reset)"
                } else if let waiting = info.waitingFor {
                    doing = "\(Terminal.yellow)waits for \(names[waiting])\(Terminal.reset)"
                } else {
                    doing = "resting"
                }
                out +=
                    "  " + pad("worker-\(worker)", 10) + pad(String(info.acquisitions), 5, right: true) + " taken   " + doing
                    + end
            }
            out += end + Terminal.bold + "RECENT HAND-OFFS" + Terminal.reset + end
            for line in state.recent.reversed() { out += "  " + line + end }
            return out + Terminal.clearToEnd
        }
    }

    /// The final numbers and checks.
    func summary(counters: [Int]) -> DemoSummary {
        let settings = self.settings
        let elapsed = min(self.elapsed, settings.seconds)
        return state.withLock { state in
            var gaps: [Double] = []
            var waits: [Double] = []
            var overlaps = 0
            var tokensIncrease = true
            for resource in 0..<settings.resources {
                let records = state.acquisitions.filter { $0.resource == resource }.sorted { $0.acquiredAt < $1.acquiredAt }
                for (previous, next) in zip(records, records.dropFirst()) {
                    if next.token <= previous.token { tokensIncrease = false }
                    guard let releasedAt = previous.releasedAt else { continue }
                    if next.acquiredAt < releasedAt { overlaps += 1 }
                    // A hand-off: the next holder was already waiting when the previous one released.
                    if next.acquiredAt - next.waited < releasedAt, next.acquiredAt >= releasedAt {
                        gaps.append(Double(next.acquiredAt - releasedAt) / 1e6)
                    }
                }
            }
            waits = state.acquisitions.map { Double($0.waited) / 1e6 }
            let errors = state.workers.compactMap(\.error)
            return DemoSummary(
                backend: backend,
                workers: settings.workers,
                resources: settings.resources,
                seconds: elapsed,
                acquisitions: state.acquisitions.count,
                counter: counters.reduce(0, +),
                handoffs: gaps.count,
                handoffGapP50Ms: percentile(gaps, 50),
                handoffGapP99Ms: percentile(gaps, 99),
                waitP50Ms: percentile(waits, 50),
                waitP99Ms: percentile(waits, 99),
                fencingTokensIncrease: tokensIncrease,
                overlaps: overlaps,
                workerErrors: errors
            )
        }
    }
}

/// The `p`th percentile (nearest rank); 0 for no values.
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let rank = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
    return sorted[rank]
}

/// The demo's result.
struct DemoSummary: Encodable {
    var backend: String
    var workers: Int
    var resources: Int
    var seconds: Double
    var acquisitions: Int
    var counter: Int
    var handoffs: Int
    var handoffGapP50Ms: Double
    var handoffGapP99Ms: Double
    var waitP50Ms: Double
    var waitP99Ms: Double
    var fencingTokensIncrease: Bool
    var overlaps: Int
    var workerErrors: [String]

    /// Whether mutual exclusion held: the counter equals the acquisitions, tokens increase, nothing overlapped.
    var passed: Bool {
        counter == acquisitions && fencingTokensIncrease && overlaps == 0 && workerErrors.isEmpty && acquisitions > 0
    }

    /// The summary for people.
    func lines(color: Bool) -> [String] {
        let ok = color ? "\(Terminal.green)✓\(Terminal.reset)" : "ok"
        let bad = color ? "\(Terminal.red)✗\(Terminal.reset)" : "FAILED"
        let rate = seconds > 0 ? Double(acquisitions) / seconds : 0
        var lines = [
            "locky demo: \(workers) workers, \(resources) resource\(resources == 1 ? "" : "s"), "
                + String(format: "%.1f s", seconds) + " on \(backend)",
            "  acquisitions     \(acquisitions) (" + String(format: "%.0f/s", rate) + ")",
            "  hand-offs        \(handoffs), gap p50 " + String(format: "%.2f ms, p99 %.2f ms", handoffGapP50Ms, handoffGapP99Ms),
            "  wait for lock    p50 " + String(format: "%.1f ms, p99 %.1f ms", waitP50Ms, waitP99Ms),
            "  fencing tokens   \(fencingTokensIncrease ? "strictly increasing per resource \(ok)" : "NOT increasing \(bad)")",
            "  overlaps         \(overlaps) \(overlaps == 0 ? ok : bad)",
            "  counter check    counter \(counter) = \(acquisitions) acquisitions? "
                + (counter == acquisitions ? "yes: mutual exclusion held \(ok)" : "no: updates were lost \(bad)"),
        ]
        for error in workerErrors { lines.append("  worker error     \(error) \(bad)") }
        return lines
    }
}
