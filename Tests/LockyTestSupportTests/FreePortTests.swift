import LockyTestSupport
import Testing

/// The free-port helper.
@Suite struct FreePortTests {
    @Test func returnsUsablePort() throws {
        let port = try FreePort.next()
        #expect((1...65_535).contains(port))
    }

    @Test func errorDescriptionIsItsMessage() {
        let error = RedisHarnessError(.setupFailed, "do this")
        #expect(error.description == "do this")
    }
}
