public import ServiceModel
public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Checks an HTTP or HTTPS endpoint by requesting its health-check URL: ZenML's
/// `HTTPEndpointHealthMonitor` (GET or HEAD, expected status, timeout in seconds), on
/// `URLSession` (libcurl underneath on Linux) rather than hand-written HTTP.
///
/// The URL is always the endpoint's own `protocol://hostname:port` plus the configured path, and
/// redirects are not followed, so the probe never talks to another host. Not obvious: libcurl
/// honours the `http_proxy`/`no_proxy` environment variables and URLSession on Linux cannot turn
/// that off, so put `localhost,127.0.0.1,::1` in `no_proxy` where a proxy is configured.
public struct HTTPEndpointHealthMonitor: Sendable {
    public var config: HTTPHealthMonitorConfig

    public init(config: HTTPHealthMonitorConfig = HTTPHealthMonitorConfig()) {
        self.config = config
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
    ///   `… timed out after 5 s`, `… unexpected status 503 (expected 200)`.
    public func check(_ endpoint: ServiceEndpoint) async -> (ServiceState, String) {
        guard endpoint.status.protocol == .http || endpoint.status.protocol == .https else {
            return (.error, "endpoint protocol is not HTTP nor HTTPS (it is \(endpoint.status.protocol)); use a TCP monitor")
        }
        if let problem = HTTPHealthMonitorConfig.problem(withPath: config.healthcheckURIPath) {
            return (.error, "healthcheck_uri_path \"\(config.healthcheckURIPath)\" \(problem)")
        }
        guard let url = healthcheckURL(for: endpoint) else {
            return (.error, "no HTTP healthcheck URI available: the endpoint's hostname and port are not known yet")
        }
        let method = config.useHeadRequest ? "HEAD" : "GET"
        let label = "HTTP healthcheck \(method) \(url.absoluteString)"
        let timeout = TimeInterval(config.httpTimeout)

        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalAndRemoteCacheData, timeoutInterval: timeout)
        request.httpMethod = method
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        let session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        do {
            let (_, response) = try await session.data(for: request)
            guard let http = response as? HTTPURLResponse else { return (.error, "\(label): not an HTTP response") }
            if http.statusCode == config.httpStatusCode { return (.active, "") }
            return (.error, "\(label): unexpected status \(http.statusCode) (expected \(config.httpStatusCode))")
        } catch let error as URLError {
            return (.error, "\(label): \(Self.describe(error, timeout: config.httpTimeout, host: url.host ?? ""))")
        } catch {
            return (.error, "\(label): \(error.localizedDescription)")
        }
    }

    static func describe(_ error: URLError, timeout: Int, host: String) -> String {
        switch error.code {
        case .cannotConnectToHost: "connection refused"
        case .timedOut: "timed out after \(timeout) s"
        case .cannotFindHost, .dnsLookupFailed: "cannot resolve host \(host)"
        case .networkConnectionLost: "connection closed before a complete response"
        case .badServerResponse: "the server's response is not valid HTTP"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
            .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            "TLS failed: \(error.localizedDescription)"
        case .notConnectedToInternet: "network unreachable"
        default: error.localizedDescription
        }
    }
}

/// Refuses every redirect, so a health check cannot be sent to another host; the 3xx status is
/// then compared with the expected one like any other.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
