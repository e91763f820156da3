import Foundation
import ServiceHealth
import Synchronization
import ServiceModel
import Testing

func endpoint(_ protocol: EndpointProtocol, host: String? = "127.0.0.1", port: UInt16?) -> ServiceEndpoint {
    ServiceEndpoint(
        config: ServiceEndpointConfig(protocol: `protocol`),
        status: ServiceEndpointStatus(protocol: `protocol`, hostname: host, port: port.flatMap { TCPPort(Int($0)) }))
}

@Suite("TCP monitor against real listeners", .serialized)
struct TCPMonitorTests {
    @Test func listenerIsActive() async throws {
        let server = try TestServer(.listenOnly)
        defer { server.stop() }
        let (state, message) = await TCPEndpointHealthMonitor().check(endpoint(.tcp, port: server.port))
        #expect(state == .active)
        #expect(message == "")
    }

    @Test func localhostFindsAnIPv4OnlyListener() async throws {
        let server = try TestServer(.listenOnly)
        defer { server.stop() }
        let (state, message) = await TCPEndpointHealthMonitor().check(endpoint(.tcp, host: "localhost", port: server.port))
        #expect(state == .active, "\(message)")
    }

    @Test func closedPortIsConnectionRefused() async throws {
        let port = try TestServer.closedPort()
        let (state, message) = await TCPEndpointHealthMonitor().check(endpoint(.tcp, port: port))
        #expect(state == .error)
        #expect(message == "TCP healthcheck 127.0.0.1:\(port): connection refused")
    }

    @Test func unknownHostnameAndPortAreAnError() async {
        let (state, message) = await TCPEndpointHealthMonitor().check(endpoint(.tcp, host: nil, port: nil))
        #expect(state == .error)
        #expect(message.contains("hostname and port are not known"))
    }

    @Test func unresolvableHostIsNamed() async {
        let (state, message) = await TCPEndpointHealthMonitor(timeout: .seconds(2)).check(endpoint(.tcp, host: "no-such-host.invalid", port: 80))
        #expect(state == .error)
        #expect(message.contains("cannot resolve host no-such-host.invalid"), "\(message)")
    }
}

@Suite("HTTP monitor against real servers", .serialized)
struct HTTPMonitorTests {
    @Test func status200IsActiveAndPathIsNormalised() async throws {
        let server = try TestServer(.http(status: 200))
        defer { server.stop() }
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(healthcheckURIPath: "health"))
        let (state, message) = await monitor.check(endpoint(.http, port: server.port))
        #expect(state == .active, "\(message)")
        #expect(message == "")
        #expect(server.requests == ["GET /health HTTP/1.1"])
    }

    @Test func headRequestIsUsedWhenConfigured() async throws {
        let server = try TestServer(.http(status: 200))
        defer { server.stop() }
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(healthcheckURIPath: "/ready", useHeadRequest: true))
        let (state, message) = await monitor.check(endpoint(.http, host: "localhost", port: server.port))
        #expect(state == .active, "\(message)")
        #expect(server.requests == ["HEAD /ready HTTP/1.1"])
    }

    @Test func status503IsAnErrorNamingBothStatuses() async throws {
        let server = try TestServer(.http(status: 503))
        defer { server.stop() }
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, port: server.port))
        #expect(state == .error)
        #expect(message == "HTTP healthcheck GET http://127.0.0.1:\(server.port)/: unexpected status 503 (expected 200)")
    }

    @Test func expectedStatusIsConfigurable() async throws {
        let server = try TestServer(.http(status: 503))
        defer { server.stop() }
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(httpStatusCode: 503))
        let (state, _) = await monitor.check(endpoint(.http, port: server.port))
        #expect(state == .active)
    }

    @Test func serverThatNeverAnswersTimesOut() async throws {
        let server = try TestServer(.silent)
        defer { server.stop() }
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(httpTimeout: 1))
        // The silent server never answers: the probe returns at all only because its 1 s timeout fired.
        let (state, message) = await monitor.check(endpoint(.http, port: server.port))
        #expect(state == .error)
        #expect(message == "HTTP healthcheck GET http://127.0.0.1:\(server.port)/: timed out after 1 s")
    }

    @Test func closedPortIsConnectionRefused() async throws {
        let port = try TestServer.closedPort()
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, port: port))
        #expect(state == .error)
        #expect(message == "HTTP healthcheck GET http://127.0.0.1:\(port)/: connection refused")
    }

    @Test func tcpEndpointIsAnErrorForTheHTTPMonitor() async throws {
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.tcp, port: 8080))
        #expect(state == .error)
        #expect(message.contains("endpoint protocol is not HTTP nor HTTPS (it is tcp)"))
    }

    @Test func unknownURIIsAnError() async {
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, host: nil, port: nil))
        #expect(state == .error)
        #expect(message.contains("no HTTP healthcheck URI available"))
    }

    @Test(arguments: ["http://example.com/health", "//example.com/health"])
    func pathPointingAtAnotherHostIsRefusedWithoutAnyRequest(path: String) async {
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(healthcheckURIPath: path))
        #expect(monitor.healthcheckURL(for: endpoint(.http, port: 8080)) == nil)
        let (state, message) = await monitor.check(endpoint(.http, port: 8080))
        #expect(state == .error)
        #expect(message.contains("healthcheck_uri_path"))
    }

    /// A server that answers 503: only the HTTP monitor looks at the status, so a checker that sent
    /// both kinds to the same monitor fails here one way or the other.
    @Test func probingCheckerDispatchesOnTheMonitorKind() async throws {
        let server = try TestServer(.http(status: 503))
        defer { server.stop() }
        let checker = ProbingHealthChecker()
        let http = await checker.checkEndpoint(endpoint(.http, port: server.port), monitor: .http())
        #expect(http.0 == .error)
        #expect(http.1.hasSuffix("unexpected status 503 (expected 200)"), "\(http.1)")
        let tcp = await checker.checkEndpoint(endpoint(.http, port: server.port), monitor: .tcp())
        #expect(tcp.0 == .active, "\(tcp.1)")
        #expect(server.requests.filter { !$0.isEmpty } == ["GET / HTTP/1.1"], "the TCP monitor only connects; it sends no request")
    }
}

/// How many probes have ended, shared with the probes' tasks.
final class EndCount: Sendable {
    let count = Mutex(0)
}

/// Probes that wait run side by side: `list` probes up to 32 endpoints at once, and one that never
/// answers must not hold up the others (seen: 20 such endpoints made `list` take 8 s, four rounds of
/// its 2 s timeout, because the blocking probes queued for the few threads of Dispatch's global pool).
@Suite("probes that wait")
struct WaitingProbeTests {
    /// Sockets of this machine in SYN-SENT towards 127.0.0.1:`port` (/proc/net/tcp, state 02).
    static func connectsWaiting(on port: UInt16) -> Int {
        let remote = String(format: ":%04X", port)
        // Read to the end: the kernel hands this file out a page per read.
        var bytes: [UInt8] = []
        if let file = fopen("/proc/net/tcp", "r") {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&buffer, 1, buffer.count, file)
                if n <= 0 { break }
                bytes += buffer[0..<n]
            }
            fclose(file)
        }
        let table = String(decoding: bytes, as: UTF8.self)
        return table.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[2].hasSuffix(remote) && fields[3] == "02"
        }.count
    }

    @Test func probesOfAnEndpointThatDoesNotAnswerAllWaitAtOnce() async throws {
        // A listener whose accept queue is full: the kernel drops further SYNs, so every probe's
        // connect waits (SYN-SENT) until its timeout or until the listener goes away.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        #expect(bound && listen(listener, 0) == 0)
        let port = UInt16(bigEndian: address.sin_port)
        let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let filled = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        #expect(filled, "the one connection the queue holds")

        // Each probe would wait (SYN-SENT) for its whole timeout; every one must be waiting before
        // the first of them gives up, as they would if they ran side by side. Queued for a pool that
        // grows a thread at a time, the first probes time out while later ones have not begun.
        // The timeout is long so that a loaded machine cannot fail this: with 8 s, a run of the whole
        // suite once saw none waiting before the first probe ended (this task's polling starved, most
        // likely). Side by side they are all seen at once, and the test ends when the listener goes.
        let count = 24
        let monitor = TCPEndpointHealthMonitor(timeout: .seconds(60))
        let ended = EndCount()
        let probes = Task {
            await withTaskGroup(of: ServiceState.self) { group in
                for _ in 0..<count {
                    group.addTask {
                        let state = await monitor.check(endpoint(.tcp, port: port)).0
                        ended.count.withLock { $0 += 1 }
                        return state
                    }
                }
                return await group.reduce(into: [ServiceState]()) { $0.append($1) }
            }
        }
        var seen = 0
        var endedBefore = 0
        while ended.count.withLock({ $0 }) == 0 {
            seen = Self.connectsWaiting(on: port)
            if seen == count { endedBefore = ended.count.withLock { $0 }; break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(seen == count && endedBefore == 0, "\(seen) of \(count) probes were waiting at once before the first one ended")
        // The listener goes away: the next retransmitted SYN gets a reset, so every probe ends now.
        close(filler)
        close(listener)
        let states = await probes.value
        #expect(states.count == count && states.allSatisfy { $0 == .error }, "\(states)")
    }
}
