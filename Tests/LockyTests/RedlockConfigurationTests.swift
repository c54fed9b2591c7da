import Locky
import LockyRedis
import Testing

/// Redlock from `LOCKY_URL` (a comma-separated list) and `LOCKY_CONFIG`.
@Suite("Redlock configuration")
struct RedlockConfigurationTests {
    @Test func aCommaInAPasswordStaysWithItsURL() throws {
        let single = try LockyConfiguration(url: "redis://admin:S3cret,x@127.0.0.1:7001")
        guard case .redis(let redis) = single.backend else {
            Issue.record("expected one Redis, got \(single.backend)")
            return
        }
        #expect(redis.password == "S3cret,x")
        let list = try LockyConfiguration(url: "redis://:a,b@127.0.0.1:7001,redis://:c@127.0.0.1:7002,redis://127.0.0.1:7003")
        guard case .redlock(let redlock) = list.backend else {
            Issue.record("expected Redlock, got \(list.backend)")
            return
        }
        #expect(redlock.nodes.map(\.password) == ["a,b", "c", nil])
        // A bad port after such a password names the port, never the password.
        let error = #expect(throws: LockError.self) { try LockyConfiguration(url: "redis://admin:S3cret,x@h:port") }
        #expect(error?.message.contains("S3cret") == false, "\(String(describing: error))")
    }

    @Test func commaSeparatedURLsMeanRedlock() throws {
        let configuration = try LockyConfiguration.fromEnvironment([
            "LOCKY_URL": "redis://127.0.0.1:7001, redis://127.0.0.1:7002 ,rediss://127.0.0.1:7003/2"
        ])
        guard case .redlock(let redlock) = configuration.backend else {
            Issue.record("expected Redlock, got \(configuration.backend)")
            return
        }
        #expect(redlock.nodes.map(\.address.description) == ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"])
        #expect(redlock.nodes[2].database == 2)
        #expect(redlock.nodes[2].tls != nil)
        #expect(redlock.quorum == 2)
        #expect(redlock.nodeTimeout == .milliseconds(100))
        #expect(redlock.recreateMissingLocks == false)
    }

    @Test func jsonSetsTheNodeTimeoutAndRecreation() throws {
        let configuration = try LockyConfiguration(
            json:
                #"{"url": "redis://127.0.0.1:7001,redis://127.0.0.1:7002,redis://127.0.0.1:7003", "nodeTimeout": "30ms", "recreateMissingLocks": true}"#
        )
        guard case .redlock(let redlock) = configuration.backend else {
            Issue.record("expected Redlock")
            return
        }
        #expect(redlock.nodeTimeout == .milliseconds(30))
        #expect(redlock.recreateMissingLocks)
    }

    @Test(arguments: [
        ("redis://127.0.0.1:7001,,redis://127.0.0.1:7002", "entry 2 of 3 is empty"),
        ("redis://127.0.0.1:7001,http://x", "entry 2 of 2"),
        ("redis://127.0.0.1:7001,redis://127.0.0.1:7001", "listed twice"),
        // One server under two database indexes or names is still one node.
        ("redis://127.0.0.1:7001,redis://127.0.0.1:7001/1,redis://127.0.0.1:7003", "listed twice"),
        ("redis://127.0.0.1:7001,redis://localhost:7001,redis://127.0.0.1:7003", "listed twice"),
        ("redis://127.0.0.1:7001,redis://127.0.0.1:0", "port"),
    ])
    func badListsAreRejected(url: String, expected: String) {
        do {
            _ = try LockyConfiguration.fromEnvironment(["LOCKY_URL": url])
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func redlockKeysNeedARedlockURL() {
        let single = #expect(throws: LockError.self) {
            _ = try LockyConfiguration(json: #"{"url": "redis://127.0.0.1:7001", "nodeTimeout": "30ms"}"#)
        }
        #expect(single?.code == .invalidArgument)
        let notABool = #expect(throws: LockError.self) {
            _ = try LockyConfiguration(json: #"{"url": "redis://a:1,redis://b:2,redis://c:3", "recreateMissingLocks": 1}"#)
        }
        #expect(notABool?.code == .invalidArgument)
    }
}
