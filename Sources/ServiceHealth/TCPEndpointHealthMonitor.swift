import OSCalls
public import ServiceModel
import Dispatch

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
        let seconds = JSONText.formatCompact(.number(Double(timeoutMilliseconds) / 1000))
        let deadline = Deadline(milliseconds: timeoutMilliseconds)
        switch Sockets.connectFirst(host: host, port: port, deadline: deadline, timeoutText: seconds) {
        case .success(let socket):
            socket.close()
            return (true, "")
        case .failure(let failure): return (false, failure.message)
        }
    }

    static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(total, 0))
    }

    /// Runs blocking socket work on a thread of its own, so it never holds a cooperative-pool thread
    /// and never waits for another probe.
    ///
    /// Not obvious: a queue of its own, not `DispatchQueue.global()`. The global queue runs about one
    /// thread per core and adds more only slowly while they block (about one every 0.6 s here), so
    /// 20 probes of endpoints that never answer took `list` four rounds of its 2 s timeout. A new
    /// serial queue targets Dispatch's overcommitting pool, which gives each blocked item a thread.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue(label: "svcunit.probe").async { continuation.resume(returning: work()) }
        }
    }
}
