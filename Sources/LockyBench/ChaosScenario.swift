import ArgumentParser
import Foundation
import Locky
import LockyRESP
import LockyRedis
import LockyTestSupport

/// `chaos`: worker processes take locks and do fenced read-modify-writes while faults are
/// injected at random; afterwards ``ChaosChecker`` reads their history and counts violations.
struct ChaosScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Processes contend for locks (withLock + fenced read-modify-write) while clients, servers and the network fail."
    )

    @Option(help: "How long to inject faults.") var seconds: Double = 60
    @Option(help: "redis (one server behind a fault proxy) or redlock (three, each behind its own proxy).")
    var backend = "redis"
    @Option(help: "Worker processes.") var workers = 3
    @Option(help: "Tasks per worker process.") var tasks = 6
    @Option(help: "Resources contended for.") var resources = 4
    @Option(help: "Lease TTL in milliseconds.") var ttlMilliseconds = 1000
    @Option(help: "Each withLock takes 1 to this many distinct resources, all or nothing.")
    var resourcesPerLock = 2
    @Option(help: "Share of the single-resource withLock calls that wait in fair mode (0 to 1; Redis only).")
    var fairShare = 0.5
    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "Keep the workers' history files in this folder (default: a temporary one, removed).")
    var historyDirectory: String?

    /// Redlock has no fair mode.
    private var effectiveFairShare: Double { backend == "redis" ? fairShare : 0 }

    func run() async throws {
        guard backend == "redis" || backend == "redlock" else { throw ValidationError("--backend is redis or redlock") }
        guard (1...resources).contains(resourcesPerLock) else {
            throw ValidationError("--resources-per-lock is 1 to --resources")
        }
        guard (0...1).contains(fairShare) else { throw ValidationError("--fair-share is 0 to 1") }
        let directory =
            historyDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("locky-chaos-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { if historyDirectory == nil { try? FileManager.default.removeItem(atPath: directory) } }
        let store = try await RedisServer.start()
        let lockServers = try await RedisServer.startMany(
            backend == "redlock" ? 3 : 1, RedisServer.Options(persistence: true))
        var proxies: [FaultProxy] = []
        do {
            for server in lockServers { proxies.append(try await FaultProxy.start(upstream: server.port)) }
            let report = try await chaos(directory: directory, store: store, lockServers: lockServers, proxies: proxies)
            try report.print(json: json)
        } catch {
            for proxy in proxies { await proxy.stop() }
            for server in lockServers + [store] { await server.stop() }
            throw error
        }
        for proxy in proxies { await proxy.stop() }
        for server in lockServers + [store] { await server.stop() }
    }

    private func chaos(
        directory: String, store: RedisServer, lockServers: [RedisServer], proxies: [FaultProxy]
    ) async throws -> BenchReport {
        let lockURL = proxies.map { "\($0.url)?command_timeout=1s&connect_timeout=1s" }.joined(separator: ",")
        var fleet = ChaosFleet(
            directory: directory, lockURL: lockURL, storeURL: store.url,
            workload: [
                "--tasks", String(tasks), "--resources", String(resources), "--ttl-milliseconds", String(ttlMilliseconds),
                "--resources-per-lock", String(resourcesPerLock), "--fair-share", String(effectiveFairShare),
            ])
        for _ in 0..<workers { try fleet.spawn() }
        var faults: [String: Int] = [:]
        let ttl = Duration.milliseconds(ttlMilliseconds)
        let started = ContinuousClock.now
        let end = started + .seconds(seconds)
        // Let the workers get going before the first fault.
        try await Task.sleep(for: .milliseconds(500))
        while ContinuousClock.now < end {
            let kinds = ["kill_client", "pause_client", "restart_redis", "partition", "blackhole", "latency", "reset"]
            let kind = kinds.randomElement() ?? "reset"
            let proxy = proxies.randomElement() ?? proxies[0]
            switch kind {
            case "kill_client":
                fleet.killOne()
                try fleet.spawn()
            case "pause_client":
                // Past the TTL: the others take its locks; when it runs again it must find out.
                try await fleet.pauseOne(for: ttl + .milliseconds(Int.random(in: 200...800)))
            case "restart_redis":
                // One server (with Redlock: a minority of one); persistence keeps its locks.
                let server = lockServers.randomElement() ?? lockServers[0]
                server.kill()
                try await Task.sleep(for: .milliseconds(Int.random(in: 100...600)))
                try await server.restart()
            case "partition":
                // Packets dropped, TCP retransmits: nothing flows, and when it heals nothing was lost.
                proxy.set(.stall(.both))
                try await Task.sleep(for: .milliseconds(Int.random(in: 200...1500)))
                proxy.heal()
            case "blackhole":
                // A partition TCP does not outlive: the connections die. (Dropping bytes and then
                // letting the same connection flow again is no network fault; it corrupts the stream.)
                proxy.blackhole(.both)
                try await Task.sleep(for: .milliseconds(Int.random(in: 200...1500)))
                await proxy.resetAll()
                proxy.heal()
            case "latency":
                proxy.set(.latency(.milliseconds(Int.random(in: 20...250)), jitter: .milliseconds(30)))
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...2000)))
                proxy.heal()
            default:
                await proxy.resetAll()
            }
            faults[kind, default: 0] += 1
            try await Task.sleep(for: .milliseconds(Int.random(in: 200...1200)))
        }
        // Let the last leases settle, then stop every worker where it stands.
        for proxy in proxies { proxy.heal() }
        try await Task.sleep(for: .milliseconds(500))
        fleet.killAll()
        let elapsed = ContinuousClock.now - started

        var history = ChaosHistory()
        for path in fleet.historyPaths {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            history.add(lines: text.split(separator: "\n"))
        }
        let redis = try RedisClient(url: store.url)
        var finalValues: [Int: Int] = [:]
        for resource in 0..<resources {
            let reply = try await redis.execute(RESPCommand("HGET", "counter-\(resource)", "value"))
            finalValues[resource] = (try? reply.decode(as: String?.self)).flatMap { $0 }.flatMap { Int($0) } ?? 0
        }
        await redis.close()
        let verdict = ChaosChecker.check(history, finalValues: finalValues)

        var report = BenchReport(scenario: "chaos")
        report.note("backend", backend)
        report.add("seconds", elapsed.seconds)
        report.add("worker_processes", Double(fleet.spawned))
        report.add("resources_per_lock", Double(resourcesPerLock))
        report.add("fair_share", effectiveFairShare)
        report.add("operations", Double(verdict.operations))
        report.add("writes_accepted", Double(verdict.writesAccepted))
        report.add("writes_rejected", Double(verdict.writesRejected))
        report.add("writes_unknown", Double(verdict.writesUnknown))
        report.add("signalled_losses", Double(verdict.signalledLosses))
        report.add("faults", Double(faults.values.reduce(0, +)))
        for (kind, count) in faults.sorted(by: { $0.key < $1.key }) { report.add("faults_\(kind)", Double(count)) }
        report.add("overlaps", Double(verdict.overlaps))
        report.add("stale_writes_accepted", Double(verdict.staleWritesAccepted))
        report.add("lost_updates", Double(verdict.lostUpdates))
        report.add("phantom_updates", Double(verdict.phantomUpdates))
        report.add("unsignalled_losses", Double(verdict.unsignalledLosses))
        report.add("malformed_lines", Double(history.malformed))
        return report
    }
}
