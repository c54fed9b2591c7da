import LockyTestSupport

/// The Redis server a scenario measures against: one it starts, or the one given by `--url`.
struct BenchServer {
    let host: String
    let port: Int
    let url: String
    private let owned: RedisServer?

    static func start(options: BenchOptions) async throws -> BenchServer {
        if let url = options.url {
            let hostPort = url.split(separator: "/").dropFirst().first ?? "127.0.0.1:6379"
            let parts = hostPort.split(separator: ":")
            let host = parts.first.map(String.init) ?? "127.0.0.1"
            let port = parts.count > 1 ? Int(parts[1]) ?? 6379 : 6379
            return BenchServer(host: host, port: port, url: url, owned: nil)
        }
        let server = try await RedisServer.start()
        return BenchServer(host: server.host, port: server.port, url: server.url, owned: server)
    }

    func stop() async {
        await owned?.stop()
    }

    /// Runs `body` with a server and always stops the one it started.
    static func with<T>(_ options: BenchOptions, _ body: (BenchServer) async throws -> T) async throws -> T {
        let server = try await start(options: options)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }
}
