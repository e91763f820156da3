public import ServiceModel
import Foundation

/// Checks that an endpoint accepts TCP connections: ZenML's `TCPEndpointHealthMonitor`, with a
/// bounded connect timeout and a message that says what failed.
///
/// The hostname is resolved with the system resolver and every address is tried in the resolver's
/// order until one connects, within one overall timeout. Not obvious: `localhost` usually
/// resolves to `::1` first; a service listening only on 127.0.0.1 is still found healthy, because
/// the refused IPv6 attempt is followed by the IPv4 one.
public struct TCPEndpointHealthMonitor: Sendable {
    /// How long all connection attempts together may take.
    public var timeout: Duration

    /// The timeout used when a document gives none (the TCP monitor has no config fields).
    public static let defaultTimeout: Duration = .seconds(HTTPHealthMonitorConfig.defaultTimeout)

    public init(timeout: Duration = TCPEndpointHealthMonitor.defaultTimeout) {
        self.timeout = timeout
    }

    /// Probes the endpoint's recorded hostname and port.
    /// - Returns: `.active` and `""` when a connection is accepted; otherwise `.error` and a
    ///   message such as `TCP healthcheck localhost:8000: connection refused`.
    public func check(_ endpoint: ServiceEndpoint) async -> (ServiceState, String) {
        guard let hostname = endpoint.status.hostname, !hostname.isEmpty, let port = endpoint.status.port else {
            return (.error, "TCP healthcheck: the endpoint's hostname and port are not known yet")
        }
        return await check(host: hostname, port: port)
    }

    /// Probes `host:port`.
    public func check(host: String, port: TCPPort) async -> (ServiceState, String) {
        let timeoutMilliseconds = Self.milliseconds(timeout)
        let label = "TCP healthcheck \(host.contains(":") ? "[\(host)]" : host):\(port)"
        let (connected, problem) = await Self.offPool {
            Self.probe(host: host, port: port.rawValue, timeoutMilliseconds: timeoutMilliseconds)
        }
        return connected ? (.active, "") : (.error, "\(label): \(problem)")
    }

    static func probe(host: String, port: UInt16, timeoutMilliseconds: Int32) -> (Bool, String) {
        let addresses: [ResolvedAddress]
        switch Sockets.resolve(host: host, port: port) {
        case .success(let resolved) where !resolved.isEmpty: addresses = resolved
        case .success: return (false, "cannot resolve host \(host)")
        case .failure(let failure): return (false, "cannot resolve host \(host): \(failure.message)")
        }
        let start = DispatchTime.now()
        var failures: [(String, ConnectOutcome)] = []
        for address in addresses {
            let elapsed = Int32((DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1_000_000)
            let remaining = timeoutMilliseconds - elapsed
            if remaining <= 0 {
                failures.append((address.text, .timedOut))
                break
            }
            let outcome = Sockets.connect(to: address, timeoutMilliseconds: remaining)
            if outcome == .connected { return (true, "") }
            failures.append((address.text, outcome))
        }
        let seconds = JSONText.formatCompact(.number(Double(timeoutMilliseconds) / 1000))
        func text(_ outcome: ConnectOutcome) -> String {
            switch outcome {
            case .connected: "connected"
            case .refused: "connection refused"
            case .timedOut: "timed out after \(seconds) s"
            case .failed(let reason): reason
            }
        }
        // One message when every address failed the same way; otherwise say which failed how.
        let distinct = Set(failures.map { text($0.1) })
        if distinct.count == 1, let only = distinct.first { return (false, only) }
        return (false, failures.map { "\(text($0.1)) on \($0.0)" }.joined(separator: "; "))
    }

    static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(total, 0))
    }

    /// Runs blocking socket work on a Dispatch thread so it never holds a cooperative-pool thread.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
    }
}
