public import ServiceModel
import Diagnostics
import Logging

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
        guard probeLog.logLevel <= .debug else { return await probe(endpoint, monitor: monitor) }
        let start = ContinuousClock.now
        let (state, message) = await probe(endpoint, monitor: monitor)
        let elapsed = ContinuousClock.now - start
        probeLog.debug("probe \(monitor.summary) of \(endpoint.status.uri ?? "the endpoint"): \(state) in \(elapsed): \(message)")
        return (state, message)
    }

    private func probe(_ endpoint: ServiceEndpoint, monitor: HealthMonitorSpec) async -> (ServiceState, String) {
        switch monitor.config {
        case .http(let config): await HTTPEndpointHealthMonitor(config: config).check(endpoint)
        case .tcp: await TCPEndpointHealthMonitor(timeout: tcpTimeout).check(endpoint)
        }
    }
}

/// Health probes, with their durations, at debug level (`Diagnostics`).
let probeLog = Logger(label: "svcunit.probe")
