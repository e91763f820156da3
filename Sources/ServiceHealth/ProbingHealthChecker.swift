public import ServiceModel

/// The health checker that really probes: dispatches a monitor description to the HTTP or TCP
/// monitor. This is what the lifecycle uses outside tests.
///
/// Not obvious: the TCP monitor has no config fields in ZenML's schema, so its timeout comes from
/// this checker (`tcpTimeout`), not from the document.
public struct ProbingHealthChecker: EndpointHealthChecker {
    public var tcpTimeout: Duration

    public init(tcpTimeout: Duration = TCPEndpointHealthMonitor.defaultTimeout) {
        self.tcpTimeout = tcpTimeout
    }

    public func checkEndpoint(_ endpoint: ServiceEndpoint, monitor: HealthMonitorSpec) async -> (ServiceState, String) {
        switch monitor.config {
        case .http(let config): await HTTPEndpointHealthMonitor(config: config).check(endpoint)
        case .tcp: await TCPEndpointHealthMonitor(timeout: tcpTimeout).check(endpoint)
        }
    }
}
