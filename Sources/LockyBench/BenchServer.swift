struct BenchServer {
    let host: String
    let port: Int
    let url: String
    static func start(options: BenchOptions) async throws -> BenchServer {
        BenchServer(host: "127.0.0.1", port: 7777, url: "redis://127.0.0.1:7777")
    }
    func stop() async {}
}
