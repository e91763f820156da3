/// The seam between the service model and whatever actually runs services (systemd user units
/// today, maybe something else later): ZenML's `provision`/`deprovision`/`check_status` trio.
///
/// Not obvious: `waitForChange` lets a backend that gets events (systemd's `PropertiesChanged`,
/// `JobRemoved`) wake the lifecycle as soon as something happens; the default merely sleeps with
/// a short exponential backoff (5 ms doubling to 20 ms), never a fixed second.
public protocol ServiceProvisioner: Sendable {
    /// Starts whatever runs `service` (its endpoint port is already chosen and recorded).
    func provision(_ service: Service) async throws
    /// Stops whatever runs `service`; `force` asks for a kill instead of a graceful stop.
    func deprovision(_ service: Service, force: Bool) async throws
    /// Observes the service's operational state, with a message explaining it (empty when fine).
    func checkStatus(_ service: Service) async -> (ServiceState, String)
    /// Returns when the service's state may have changed, or at `deadline` at the latest.
    /// - Parameter attempt: how many times the caller has waited already (0 first), for backoff.
    func waitForChange(_ service: Service, deadline: ContinuousClock.Instant, attempt: Int) async
    /// Why the provisioner can no longer observe or act on services (e.g. its connection to the
    /// service manager broke), nil while it can. A wait ends at once with it as the cause.
    var lostConnection: (any Error)? { get }
}

extension ServiceProvisioner {
    public var lostConnection: (any Error)? { nil }

    public func waitForChange(_ service: Service, deadline: ContinuousClock.Instant, attempt: Int) async {
        await Backoff.sleep(attempt: attempt, until: deadline)
    }
}

/// The default waiting strategy: exponential backoff from 5 ms, capped at 20 ms and at the deadline.
///
/// Not obvious: the cap is what a health probe of a slow starter costs in latency (a server that
/// binds just after a probe is seen up to one cap later), while a loopback probe costs well under a
/// millisecond; 20 ms keeps start-to-healthy close to the server's own start-up.
public enum Backoff {
    public static let initial: Duration = .milliseconds(5)
    public static let cap: Duration = .milliseconds(20)

    /// The delay before retry number `attempt` (0-based): 5, 10, 20, 20 ms.
    public static func delay(attempt: Int) -> Duration {
        let factor = 1 << min(max(attempt, 0), 16)
        return min(initial * factor, cap)
    }

    /// Sleeps for `delay(attempt:)`, never past `deadline`. Returns early if the task is cancelled.
    public static func sleep(attempt: Int, until deadline: ContinuousClock.Instant) async {
        let clock = ContinuousClock()
        let wake = min(clock.now + delay(attempt: attempt), deadline)
        try? await clock.sleep(until: wake, tolerance: .milliseconds(1))
    }
}
