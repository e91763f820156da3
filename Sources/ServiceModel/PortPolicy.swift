/// Chooses the TCP port a local daemon's endpoint will listen on, exactly as ZenML's
/// `LocalDaemonServiceEndpoint._lookup_free_port` does: the configured port if free; if it is busy
/// and `allocate_port` is false, an error naming the port; otherwise the port used last time if
/// free; otherwise the first free port found by scanning.
///
/// Not obvious: "free" means this process can bind 127.0.0.1:port with `SO_REUSEADDR` on, as
/// ZenML's `port_available` does: a port left in TIME_WAIT by a stopped service's last connections
/// is free again (otherwise every restart would wander to a new port). The check is inherently
/// racy (another process may take the port before the service binds it), as it is in ZenML. The
/// probe is injectable for tests.
public struct PortPolicy: Sendable {
    /// Whether a port can be taken now by the service starting (nil: no service in particular).
    public var isFree: @Sendable (TCPPort, ServiceUUID?) -> Bool
    /// The ports scanned as a last resort, in order (ZenML scans 8000…65535).
    public var scanRange: ClosedRange<Int>

    public init(scanRange: ClosedRange<Int> = 8000...65535, isFree: @escaping @Sendable (TCPPort) -> Bool = PortPolicy.canBindLoopback) {
        self.scanRange = scanRange
        self.isFree = { port, _ in isFree(port) }
    }

    /// A policy whose check knows the service: a port held for that very service is its own
    /// (`PortReservations.claimIfFree`).
    public init(scanRange: ClosedRange<Int> = 8000...65535, isFreeFor: @escaping @Sendable (TCPPort, ServiceUUID?) -> Bool) {
        self.scanRange = scanRange
        self.isFree = isFreeFor
    }

    /// Picks a port.
    /// - Parameters:
    ///   - preferred: `endpoint.config.port`.
    ///   - allocate: `endpoint.config.allocate_port`.
    ///   - lastUsed: `endpoint.status.port`.
    ///   - service: the service starting, for a check that knows which ports are its own.
    /// - Throws: `.portUnavailable` naming the preferred port when it is busy and `allocate` is false;
    ///   `.noFreePort` naming the scanned range when nothing is free.
    public func selectPort(preferred: TCPPort?, allocate: Bool, lastUsed: TCPPort?, for service: ServiceUUID? = nil) throws(ServiceModelError) -> TCPPort {
        let isFree = { (port: TCPPort) in self.isFree(port, service) }
        if let preferred {
            if isFree(preferred) { return preferred }
            if !allocate {
                throw ServiceModelError(
                    .portUnavailable, "TCP port \(preferred) is not available", fieldPath: "endpoint.config.port",
                    hint: "stop what is listening on port \(preferred), choose another port, or set allocate_port to true")
            }
        }
        if let lastUsed, isFree(lastUsed) { return lastUsed }
        for candidate in scanRange {
            if let port = TCPPort(candidate), isFree(port) { return port }
        }
        throw ServiceModelError(
            .noFreePort, "no free TCP port found in \(scanRange.lowerBound)…\(scanRange.upperBound)",
            hint: "free a port or configure endpoint.config.port")
    }

    /// Whether 127.0.0.1:`port` can be bound right now (with `SO_REUSEADDR`, so TIME_WAIT is free).
    @Sendable public static func canBindLoopback(_ port: TCPPort) -> Bool {
        POSIX.canBindLoopback(port: port.rawValue)
    }
}
