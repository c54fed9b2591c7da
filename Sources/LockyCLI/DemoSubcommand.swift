import ArgumentParser
import Foundation
import Locky
import LockyRedis
import LockyTestSupport
import Synchronization

/// `locky demo`: the showcase.
struct DemoSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Watch worker processes contend for a few locks, then check mutual exclusion.",
        discussion: """
            Without --url or LOCKY_URL, starts a throwaway redis-server on a free loopback port \
            and stops it afterwards; with --url memory:// the workers are tasks in this process. \
            Each worker process takes a random resource (waiting, woken by the release), does a \
            read-modify-write of a shared counter under the lock (GET, sleep, SET value+1), works \
            a little and releases it.

            On a terminal a live view shows holders, hand-offs and fencing tokens; then a \
            summary: acquisitions, hand-off gap p50/p99, and the checks (the counter equals the \
            acquisitions, fencing tokens strictly increase, no two holders overlap). Exit status \
            0 when every check passed, 1 otherwise.

            Examples:
              locky demo
              locky demo --workers 8 --resources 1 --seconds 10
              locky demo --url memory://
              locky demo --url redis://127.0.0.1:6379 --json
            """
    )

    @OptionGroup var options: GlobalOptions

    @Option(parsing: .unconditional, help: "Worker processes (tasks with memory://).")
    var workers = 4

    @Option(parsing: .unconditional, help: "Resources they contend for.")
    var resources = 2

    @Option(parsing: .unconditional, help: "How long the workers run, in seconds.")
    var seconds: Double = 5

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1 to 64") }
        guard (1...100).contains(resources) else { throw ValidationError("--resources must be 1 to 100") }
        guard seconds > 0, seconds <= 3_600 else { throw ValidationError("--seconds must be above 0 and at most 3600") }
    }

    func run() async throws {
        let settings = DemoSettings(workers: workers, resources: resources, seconds: seconds, json: options.json)
        var configuration = try options.configurationOrExit()
        var server: RedisServer?
        if options.explicitURL == nil {
            do {
                let started = try await RedisServer.start()
                server = started
                configuration = try options.configuration(url: started.url)
                if !settings.json { Terminal.error("locky: started a throwaway redis-server on \(started.host):\(started.port)") }
            } catch {
                Terminal.error(
                    "locky: cannot start a throwaway redis-server (\(error)); install it with scripts/setup.sh or give --url"
                )
                throw ExitCode(ExitStatus.unavailable)
            }
        }
        let finalConfiguration = configuration
        let workerURL = server?.url ?? options.explicitURL ?? ""
        let status: Int32
        do {
            status = try await Self.demo(
                settings, configuration: finalConfiguration, workerURL: workerURL, throwaway: server != nil)
        } catch {
            await server?.stop()
            let failure = CLIError.from(error, configuration: finalConfiguration)
            Terminal.error("locky: \(failure.message)")
            throw ExitCode(failure.status)
        }
        await server?.stop()
        let final = Terminal.exitStatus(after: status)
        if final != 0 { throw ExitCode(final) }
    }

    private static func demo(
        _ settings: DemoSettings,
        configuration: LockyConfiguration,
        workerURL: String,
        throwaway: Bool
    ) async throws -> Int32 {
        let backendName: String
        switch configuration.backend {
        case .memory: backendName = "memory (in-process tasks)"
        case .redis(let redis): backendName = "redis \(redis.address)\(throwaway ? " (throwaway)" : "")"
        case .redlock(let redlock): backendName = "redlock over \(redlock.nodes.count) nodes (quorum \(redlock.quorum))"
        }
        let model = DemoModel(settings: settings, backend: backendName)
        let (events, sink) = AsyncStream.makeStream(of: DemoEvent.self)
        let client = try LockClient(configuration: configuration)
        do {
            let status = try await demo(
                settings, client: client, configuration: configuration, workerURL: workerURL,
                model: model, events: events, sink: sink
            )
            await client.close()
            return status
        } catch {
            await client.close()
            throw error
        }
    }

    private static func demo(
        _ settings: DemoSettings,
        client: LockClient,
        configuration: LockyConfiguration,
        workerURL: String,
        model: DemoModel,
        events: AsyncStream<DemoEvent>,
        sink: AsyncStream<DemoEvent>.Continuation
    ) async throws -> Int32 {
        let counter: any DemoCounter
        var workerProcesses: [Process] = []
        if case .memory = configuration.backend {
            counter = MemoryDemoCounter()
        } else {
            guard let backend = client.backend.firstRedisNode else { return ExitStatus.failure }
            let redisCounter = RedisDemoCounter(redis: backend.client, prefix: backend.keyspace.prefix)
            do {
                try await redisCounter.reset(settings.resources)
            } catch let error as RedisClientError {
                throw LockError(error, during: "resetting the demo counters")
            }
            counter = redisCounter
            workerProcesses = try startWorkerProcesses(settings, url: workerURL, prefix: configuration.prefix, sink: sink)
        }

        let interactive = Terminal.isInteractive && !settings.json
        if interactive { Terminal.raw(Terminal.hideCursor + Terminal.clearScreen) }
        let processes = workerProcesses
        try await untilInterrupted {
            await withThrowingTaskGroup(of: Void.self) { group in
                if processes.isEmpty {
                    for worker in 1...settings.workers {
                        group.addTask {
                            var failure: String?
                            do {
                                try await runDemoWorker(
                                    client: client, worker: worker, resources: settings.resources,
                                    seconds: settings.seconds, counter: counter
                                ) { sink.yield($0) }
                            } catch {
                                if !Task.isCancelled { failure = error.message }
                            }
                            sink.yield(.finished(worker: worker, error: failure))
                        }
                    }
                }
                group.addTask {
                    // The view: redrawn ten times a second on a terminal, a line a second on a pipe.
                    var lastLine = monotonicNanoseconds()
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(100))
                        if interactive {
                            Terminal.raw(model.renderScreen())
                        } else if !settings.json, monotonicNanoseconds() - lastLine >= 1_000_000_000 {
                            lastLine = monotonicNanoseconds()
                            Terminal.line(model.progressLine())
                        }
                    }
                }
                for await event in events {
                    if model.apply(event) { break }
                }
                group.cancelAll()
            }
        }
        // Interrupted (or done): stop worker processes that still run.
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGTERM) }
        for process in processes { process.waitUntilExit() }
        if interactive {
            Terminal.raw(model.renderScreen() + Terminal.showCursor)
            Terminal.line("")
        }
        var counters: [Int] = []
        for resource in 0..<settings.resources {
            counters.append((try? await counter.get(resource)) ?? -1)
        }
        if let redisCounter = counter as? RedisDemoCounter { try? await redisCounter.reset(settings.resources) }
        let summary = model.summary(counters: counters)
        if settings.json {
            Terminal.json(summary)
        } else {
            for line in summary.lines(color: interactive) { Terminal.line(line) }
        }
        return summary.passed ? ExitStatus.success : ExitStatus.failure
    }

    /// Re-executes this binary as `demo-worker` processes; their lines become events.
    private static func startWorkerProcesses(
        _ settings: DemoSettings,
        url: String,
        prefix: String,
        sink: AsyncStream<DemoEvent>.Continuation
    ) throws -> [Process] {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var processes: [Process] = []
        for worker in 1...settings.workers {
            let process = Process()
            process.executableURL = executable
            process.arguments = [
                "demo-worker", "--prefix", prefix, "--worker", String(worker),
                "--resources", String(settings.resources), "--seconds", String(settings.seconds),
            ]
            var environment = ProcessInfo.processInfo.environment
            // The URL goes through the environment, so credentials never show in `ps`.
            environment["LOCKY_URL"] = url
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.runWithSignalsUnblocked()
            processes.append(process)
            let reading = pipe.fileHandleForReading
            Thread.detachNewThread {
                var buffer = Data()
                while true {
                    let chunk = reading.availableData
                    if chunk.isEmpty { break }
                    buffer.append(chunk)
                    while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                        buffer.removeSubrange(buffer.startIndex...newline)
                        if let event = DemoEvent(line: Substring(line), worker: worker) { sink.yield(event) }
                    }
                }
                process.waitUntilExit()
                let status = process.terminationStatus
                sink.yield(.finished(worker: worker, error: status == 0 ? nil : "worker-\(worker) exited with status \(status)"))
            }
        }
        return processes
    }
}

/// The demo's parameters.
struct DemoSettings: Sendable {
    let workers: Int
    let resources: Int
    let seconds: Double
    let json: Bool
}
