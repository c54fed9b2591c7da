import Foundation
import LockyRESP
import LockyTestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import LockyRedis

/// Failures of the tests themselves (not of the code under test).
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A configuration for `server`, parsed from its URL plus `suffix` (a path and/or query).
func configuration(
    for server: RedisServer,
    suffix: String = "",
    commandTimeout: Duration? = nil,
    connectTimeout: Duration? = nil
) throws -> RedisConfiguration {
    var configuration = try RedisConfiguration(url: server.url + suffix)
    if let commandTimeout { configuration.commandTimeout = commandTimeout }
    if let connectTimeout { configuration.connectTimeout = connectTimeout }
    return configuration
}

/// Runs `body` with a client for `server` and always closes the client.
func withClient<T: Sendable>(
    _ server: RedisServer,
    suffix: String = "",
    commandTimeout: Duration? = nil,
    connectTimeout: Duration? = nil,
    _ body: (RedisClient) async throws -> T
) async throws -> T {
    let configuration = try configuration(
        for: server,
        suffix: suffix,
        commandTimeout: commandTimeout,
        connectTimeout: connectTimeout
    )
    return try await RedisClient.withClient(configuration: configuration, body)
}

/// Runs `command` and decodes the reply as `T`.
func run<T: RESPDecodable>(_ client: RedisClient, _ command: RESPCommand, as type: T.Type = T.self) async throws -> T {
    try await client.execute(command).decode(as: T.self)
}

/// Runs `body`, which must throw a ``RedisClientError``, and returns that error with how long it took.
/// Any other error is recorded as an issue.
func clientError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> (error: RedisClientError?, elapsed: Duration) {
    let start = ContinuousClock.now
    do {
        try await body()
        return (nil, ContinuousClock.now - start)
    } catch let error as RedisClientError {
        return (error, ContinuousClock.now - start)
    } catch {
        Issue.record("expected a RedisClientError, got \(error)", sourceLocation: sourceLocation)
        return (nil, ContinuousClock.now - start)
    }
}

/// Polls `condition` every 10 ms until it holds or `limit` passes; returns whether it held.
func eventually(within limit: Duration = .seconds(3), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// Waits until `server` counts `count` clients blocked in a blocking command (`blocked_clients`
/// of `INFO clients`, through redis-cli), so a test knows its BLPOP holds the connection.
func waitUntilBlocked(
    _ server: RedisServer, _ count: Int = 1, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let blocked = try await eventually(within: .seconds(5)) {
        try server.cli("INFO", "clients").split(whereSeparator: \.isNewline).contains { $0 == "blocked_clients:\(count)" }
    }
    try #require(blocked, "the server never counted \(count) blocked clients", sourceLocation: sourceLocation)
}

/// The lines of `CLIENT LIST` (as seen through redis-cli) whose client has `name`.
func clientListLines(_ server: RedisServer, named name: String) throws -> [Substring] {
    try server.cli("CLIENT", "LIST").split(separator: "\n").filter { $0.contains(" name=\(name) ") }
}

/// Collects the events of a subscription in the background, so tests can wait for them with a deadline
/// (iterating a stream directly would hang the test forever when a message never comes).
final class EventLog: Sendable {
    private let events = Mutex<[RedisSubscriptionEvent]>([])

    var snapshot: [RedisSubscriptionEvent] { events.withLock { $0 } }

    var messages: [RedisPubSubMessage] {
        snapshot.compactMap { event in
            if case .message(let message) = event { return message }
            return nil
        }
    }

    func append(_ event: RedisSubscriptionEvent) {
        events.withLock { $0.append(event) }
    }

    /// Waits until at least `count` events arrived or `limit` passed, and returns what arrived.
    func wait(forCount count: Int, within limit: Duration = .seconds(3)) async -> [RedisSubscriptionEvent] {
        _ = await eventually(within: limit) { snapshot.count >= count }
        return snapshot
    }

    /// Consumes `subscription` into a log while `body` runs.
    static func collecting<T: Sendable>(
        _ subscription: RedisSubscription,
        _ body: (EventLog) async throws -> T
    ) async throws -> T {
        let log = EventLog()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in subscription { log.append(event) }
            }
            let result = try await body(log)
            group.cancelAll()
            return result
        }
    }
}

/// A plain TCP listener on 127.0.0.1 that accepts connections and either ignores every byte or closes at once.
final class SilentListener: Sendable {
    enum Behaviour: Sendable {
        case ignoreEverything
        case closeImmediately
    }

    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    private let channel: any Channel
    private let counter: Counter

    let port: Int
    /// How many connections were accepted so far.
    var acceptedCount: Int { counter.value.load(ordering: .relaxed) }

    private init(channel: any Channel, counter: Counter, port: Int) {
        self.channel = channel
        self.counter = counter
        self.port = port
    }

    static func start(_ behaviour: Behaviour) async throws -> SilentListener {
        let counter = Counter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                counter.value.add(1, ordering: .relaxed)
                switch behaviour {
                case .ignoreEverything:
                    // No handler: whatever the client writes reaches the pipeline's tail and is dropped.
                    return child.eventLoop.makeSucceededVoidFuture()
                case .closeImmediately:
                    return child.close()
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        guard let port = channel.localAddress?.port else {
            try await channel.close()
            throw TestFailure("the listener has no port")
        }
        return SilentListener(channel: channel, counter: counter, port: port)
    }

    func stop() async {
        try? await channel.close()
    }
}
