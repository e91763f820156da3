#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
@testable import ServiceHealth
import ServiceModel
import Testing

/// The HTTP/1.1 probe on its own sockets (issue 12): what goes on the wire, what is read back, and
/// every way an answer can fail, against local servers only.
@Suite("HTTP probe on the wire", .serialized)
struct HTTPProbeWireTests {
    @Test func requestCarriesHostUserAgentAndConnectionClose() async throws {
        let server = try TestServer(.http(status: 200))
        defer { server.stop() }
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, port: server.port))
        #expect(state == .active, "\(message)")
        let head = try #require(server.heads.first)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: true).map(String.init)
        #expect(lines.first == "GET / HTTP/1.1")
        #expect(lines.contains("Host: 127.0.0.1:\(server.port)"))
        #expect(lines.contains("User-Agent: svcunit"))
        #expect(lines.contains("Connection: close"))
        #expect(head.hasSuffix("\r\n\r\n"))
    }

    @Test func queryIsSentAndFragmentIsNot() async throws {
        let server = try TestServer(.http(status: 200))
        defer { server.stop() }
        for path in ["/health?full=1", "/ready#section"] {
            let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(healthcheckURIPath: path))
            let (state, message) = await monitor.check(endpoint(.http, port: server.port))
            #expect(state == .active, "\(message)")
        }
        #expect(server.requests == ["GET /health?full=1 HTTP/1.1", "GET /ready HTTP/1.1"])
    }

    @Test func redirectIsAStatusAndIsNotFollowed() async throws {
        let trap = try TestServer(.http(status: 200))
        defer { trap.stop() }
        let server = try TestServer(.raw("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:\(trap.port)/\r\nContent-Length: 0\r\n\r\n"))
        defer { server.stop() }
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, port: server.port))
        #expect(state == .error)
        #expect(message == "HTTP healthcheck GET http://127.0.0.1:\(server.port)/: unexpected status 302 (expected 200)")
        let expecting302 = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(httpStatusCode: 302))
        #expect(await expecting302.check(endpoint(.http, port: server.port)).0 == .active)
        #expect(trap.requests.isEmpty, "the probe followed the redirect")
    }

    @Test func serverClosingWithoutAnswerIsNamed() async throws {
        let server = try TestServer(.closeAtOnce)
        defer { server.stop() }
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, port: server.port))
        #expect(state == .error)
        #expect(message == "HTTP healthcheck GET http://127.0.0.1:\(server.port)/: connection closed before a complete response")
    }

    @Test func closingInTheMiddleOfTheStatusLineIsNamed() async throws {
        let server = try TestServer(.raw("HTTP/1.1 20"))
        defer { server.stop() }
        let (_, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, port: server.port))
        #expect(message.hasSuffix(": connection closed before a complete response"), "\(message)")
    }

    @Test(arguments: ["garbage\r\n\r\n", "SSH-2.0-OpenSSH_9.2\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 OK\r\n\r\n",
                      "HTTP/2 200\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n", "\r\n"])
    func garbageStatusLineIsNotValidHTTP(_ answer: String) async throws {
        let server = try TestServer(.raw(answer))
        defer { server.stop() }
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, port: server.port))
        #expect(state == .error)
        #expect(message == "HTTP healthcheck GET http://127.0.0.1:\(server.port)/: the server's response is not valid HTTP")
    }

    @Test func garbageWithoutLineEndFailsAtOnceNotAtTheTimeout() async throws {
        // A server that answers something else and keeps the connection open.
        let server = try TestServer(.raw("220 smtp.example ESMTP"))
        defer { server.stop() }
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(httpTimeout: 30))
        let clock = ContinuousClock()
        let start = clock.now
        let (_, message) = await monitor.check(endpoint(.http, port: server.port))
        #expect(message.hasSuffix("the server's response is not valid HTTP"), "\(message)")
        #expect(clock.now - start < .seconds(10))
    }

    @Test func hugeHeaderAfterTheStatusLineIsNotRead() async throws {
        let big = String(repeating: "a", count: 4 << 20)
        let server = try TestServer(.raw("HTTP/1.1 200 OK\r\nX-Big: \(big)\r\n\r\n"))
        defer { server.stop() }
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, port: server.port))
        #expect(state == .active, "\(message)")
    }

    @Test func endlessStatusLineIsBounded() async throws {
        let server = try TestServer(.raw("HTTP/1.1 200 " + String(repeating: "O", count: 1 << 20)))
        defer { server.stop() }
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, port: server.port))
        #expect(state == .error)
        #expect(message.hasSuffix("the server's response is not valid HTTP"), "\(message)")
    }

    @Test func interimResponseIsSkipped() async throws {
        let server = try TestServer(.raw("HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"))
        defer { server.stop() }
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(httpStatusCode: 204))
        let (state, message) = await monitor.check(endpoint(.http, port: server.port))
        #expect(state == .active, "\(message)")
    }

    @Test func http10AndEmptyReasonAreAccepted() async throws {
        for answer in ["HTTP/1.0 200 OK\r\n\r\n", "HTTP/1.1 200\r\n\r\n", "HTTP/1.1 200 \n\n"] {
            let server = try TestServer(.raw(answer))
            defer { server.stop() }
            let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, port: server.port))
            #expect(state == .active, "\(answer.debugDescription): \(message)")
        }
    }

    @Test func ipv6LoopbackLiteral() async throws {
        let server = try TestServer(.http(status: 200), ipv6: true)
        defer { server.stop() }
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.http, host: "::1", port: server.port))
        #expect(state == .active, "\(message)")
        #expect(server.heads.first?.contains("\r\nHost: [::1]:\(server.port)\r\n") == true, "\(server.heads)")
        let failing = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(httpStatusCode: 204))
        let (_, label) = await failing.check(endpoint(.http, host: "::1", port: server.port))
        #expect(label == "HTTP healthcheck GET http://[::1]:\(server.port)/: unexpected status 200 (expected 204)")
    }

    @Test func httpsAgainstASilentServerTimesOutInTheHandshake() async throws {
        let server = try TestServer(.silent)
        defer { server.stop() }
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(httpTimeout: 1))
        let (state, message) = await monitor.check(endpoint(.https, port: server.port))
        #expect(state == .error)
        #expect(message == "HTTP healthcheck GET https://127.0.0.1:\(server.port)/: timed out after 1 s")
    }
}

@Suite("HTTP status line parsing")
struct StatusLineTests {
    @Test(arguments: [("HTTP/1.1 200 OK", 200), ("HTTP/1.0 503 Service Unavailable", 503), ("HTTP/1.1 302", 302),
                      ("HTTP/1.1 100 Continue", 100), ("HTTP/1.1 599 x", 599)])
    func valid(_ line: String, _ code: Int) {
        #expect(HTTPProbe.statusCode(ofLine: ArraySlice(line.utf8)) == code)
    }

    @Test(arguments: ["", "HTTP/1.1", "HTTP/1.1 20", "HTTP/1.1 2000", "HTTP/1.1 20x OK", "http/1.1 200 OK", "HTTP/1.1  200 OK",
                      "HTTP/3.0 200 OK", "ICY 200 OK", "HTTP/1.1 600 Too High", "HTTP/1.1 000 Zero"])
    func invalid(_ line: String) {
        #expect(HTTPProbe.statusCode(ofLine: ArraySlice(line.utf8)) == nil)
    }
}

/// https against `openssl s_server` with certificates made on the spot: verification as URLSession
/// (and ZenML's requests) does it by default.
@Suite("HTTPS probe against a local TLS server", .serialized, .enabled(if: TLSTestServer.available, "needs /usr/bin/openssl"))
struct HTTPSProbeTests {
    @Test func selfSignedCertificateFailsVerification() async throws {
        let server = try TLSTestServer(.selfSigned)
        defer { server.stop() }
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.https, port: server.port))
        #expect(state == .error)
        #expect(message.hasPrefix("HTTP healthcheck GET https://127.0.0.1:\(server.port)/: TLS failed: certificate verify failed: self"),
                "\(message)")
    }

    @Test func certificateFromATrustedCAPassesByIPAndByName() async throws {
        let server = try TLSTestServer(.signedByTestCA(subjectAltName: "DNS:localhost,IP:127.0.0.1"))
        defer { server.stop() }
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(), trustedCertificatesFile: server.caFile)
        for host in ["127.0.0.1", "localhost"] {
            let (state, message) = await monitor.check(endpoint(.https, host: host, port: server.port))
            #expect(state == .active, "\(host): \(message)")
        }
        // The same server is not trusted by the system store.
        let (state, message) = await HTTPEndpointHealthMonitor().check(endpoint(.https, port: server.port))
        #expect(state == .error)
        #expect(message.contains("TLS failed: certificate verify failed"), "\(message)")
    }

    @Test func certificateForAnotherNameFails() async throws {
        let server = try TLSTestServer(.signedByTestCA(subjectAltName: "DNS:other.example"))
        defer { server.stop() }
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(), trustedCertificatesFile: server.caFile)
        for host in ["127.0.0.1", "localhost"] {
            let (state, message) = await monitor.check(endpoint(.https, host: host, port: server.port))
            #expect(state == .error)
            #expect(message.contains("TLS failed: certificate verify failed"), "\(host): \(message)")
            #expect(message.lowercased().contains("mismatch"), "\(host): \(message)")
        }
    }

    @Test func plainHTTPToATLSServerIsNotValidHTTP() async throws {
        let server = try TLSTestServer(.selfSigned)
        defer { server.stop() }
        let monitor = HTTPEndpointHealthMonitor(config: HTTPHealthMonitorConfig(httpTimeout: 2))
        let (state, message) = await monitor.check(endpoint(.http, port: server.port))
        #expect(state == .error)
        #expect(!message.contains("unexpected status"), "\(message)")
    }
}
