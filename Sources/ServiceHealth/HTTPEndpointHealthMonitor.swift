public import FoundationEssentials
import OSCalls
public import ServiceModel

/// Checks an HTTP or HTTPS endpoint by requesting its health-check URL: ZenML's
/// `HTTPEndpointHealthMonitor` (GET or HEAD, expected status, timeout in seconds).
///
/// One HTTP/1.1 request over the same non-blocking sockets as the TCP monitor
/// (`Internals/HTTPProbe.swift`): `Host`, `User-Agent: svcunit`, `Connection: close`, and only the
/// status line of the answer is read (interim 1xx answers skipped). The status is compared exactly
/// with the expected one; a 3xx is just a status, redirects are never followed; the URL is always
/// the endpoint's own `protocol://hostname:port` plus the configured path, so the probe never talks
/// to another host, and no proxy is ever used (`http_proxy` and friends do not apply to these local
/// probes). Connect, TLS handshake, request and answer together are bounded by `http_timeout`.
/// `https` loads the system's OpenSSL (`libssl.so.3`) with dlopen on the first https probe and
/// verifies the certificate against the system store and the hostname, as URLSession did and as
/// ZenML's `requests` does (it verifies by default too, against certifi's bundle); a self-signed
/// certificate fails with `TLS failed: certificate verify failed: self-signed certificate`.
/// Deliberately unlike ZenML 0.98, whose `requests.get` follows redirects and honours proxy
/// variables: a health probe must not leave the endpoint (ReliabilityTests' security cases).
///
/// Why not URLSession or swift-nio (issue 12; BENCHMARKS.md, "Health probes without libcurl"): a
/// tiny static release executable doing one probe of a local server, on the 2-core machine, took
/// 3.2 ms, 5.8 MiB peak RSS, 6.2 MB stripped with this client (a program that only prints: 1.9 ms,
/// 4.9 MiB, 6.2 MB); 6.8 ms, 10.1 MiB, 11.7 MB with NIOPosix + NIOHTTP1 (7.1-11.9 ms, 10.9 MiB,
/// 15.5 MB once NIOSSL is linked for https, plus about 5.5 CPU-minutes of build for BoringSSL);
/// 20.2 ms, 26.9 MiB, 58.6 MB and libcurl with URLSession. An https probe costs 12-15 ms and
/// 11 MiB with the dlopen'ed libssl (NIOSSL: 16-17 ms, 13 MiB), only in processes that probe https.
public struct HTTPEndpointHealthMonitor: Sendable {
    public var config: HTTPHealthMonitorConfig
    /// Certificates trusted instead of the system store; only tests set it (a throwaway CA).
    var trustedCertificatesFile: String?

    public init(config: HTTPHealthMonitorConfig = HTTPHealthMonitorConfig()) {
        self.config = config
    }

    init(config: HTTPHealthMonitorConfig, trustedCertificatesFile: String?) {
        self.config = config
        self.trustedCertificatesFile = trustedCertificatesFile
    }

    /// The URL probed for `endpoint`, or `nil` when its URI is not known yet or the path is unsafe.
    public func healthcheckURL(for endpoint: ServiceEndpoint) -> URL? {
        guard let uri = endpoint.status.uri, HTTPHealthMonitorConfig.problem(withPath: config.healthcheckURIPath) == nil
        else { return nil }
        let path = config.normalizedPath
        let text = path.isEmpty ? uri : String(uri.dropLast()) + path
        guard let url = URL(string: text), url.port == endpoint.status.port?.value else { return nil }
        return url
    }

    /// Runs the health check.
    /// - Returns: `.active` and `""` when the expected status comes back; otherwise `.error` and a
    ///   message: `endpoint protocol is not HTTP nor HTTPS (it is tcp)`, `… connection refused`,
    ///   `… timed out after 5 s`, `… unexpected status 503 (expected 200)`, `… the server's
    ///   response is not valid HTTP`, `… connection closed before a complete response`,
    ///   `… TLS failed: …`.
    public func check(_ endpoint: ServiceEndpoint) async -> (ServiceState, String) {
        guard endpoint.status.protocol == .http || endpoint.status.protocol == .https else {
            return (.error, "endpoint protocol is not HTTP nor HTTPS (it is \(endpoint.status.protocol)); use a TCP monitor")
        }
        if let problem = HTTPHealthMonitorConfig.problem(withPath: config.healthcheckURIPath) {
            return (.error, "healthcheck_uri_path \"\(config.healthcheckURIPath)\" \(problem)")
        }
        guard let url = healthcheckURL(for: endpoint), let probe = probe(for: url, endpoint: endpoint) else {
            return (.error, "no HTTP healthcheck URI available: the endpoint's hostname and port are not known yet")
        }
        let label = "HTTP healthcheck \(probe.method) \(url.absoluteString)"
        switch await TCPEndpointHealthMonitor.offPool({ probe.run() }) {
        case .success(let status) where status == config.httpStatusCode: return (.active, "")
        case .success(let status): return (.error, "\(label): unexpected status \(status) (expected \(config.httpStatusCode))")
        case .failure(let failure): return (.error, "\(label): \(failure.message)")
        }
    }

    /// The request for `url`: to the endpoint's own hostname and port, with the URL's path and
    /// query as the target (a fragment is never sent).
    func probe(for url: URL, endpoint: ServiceEndpoint) -> HTTPProbe? {
        guard let hostname = endpoint.status.hostname, let port = endpoint.status.port, let authority = endpoint.status.authority
        else { return nil }
        let host = hostname.hasPrefix("[") && hostname.hasSuffix("]") ? String(hostname.dropFirst().dropLast()) : hostname
        var target = url.path(percentEncoded: true)
        if target.isEmpty { target = "/" }
        if let query = url.query(percentEncoded: true) { target += "?" + query }
        return HTTPProbe(
            method: config.useHeadRequest ? "HEAD" : "GET", host: host, port: port.rawValue, authority: authority, target: target,
            useTLS: endpoint.status.protocol == .https, timeoutSeconds: config.httpTimeout,
            trustedCertificatesFile: trustedCertificatesFile)
    }
}
