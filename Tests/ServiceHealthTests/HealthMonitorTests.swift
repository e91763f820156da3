import Foundation
import ServiceHealth
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

    @Test func probingCheckerDispatchesOnTheMonitorKind() async throws {
        // Accepts connections but answers 503: the HTTP monitor must fail and the TCP one pass, so a
        // checker that ran the wrong monitor for either kind fails this test.
        let server = try TestServer(.http(status: 503))
        defer { server.stop() }
        let checker = ProbingHealthChecker()
        let http = await checker.checkEndpoint(endpoint(.http, port: server.port), monitor: .http())
        #expect(http.0 != .active, "\(http)")
        #expect(http.1.contains("503"), "\(http)")
        let tcp = await checker.checkEndpoint(endpoint(.http, port: server.port), monitor: .tcp())
        #expect(tcp.0 == .active, "\(tcp)")
    }
}
