/// The seam between the service model and whatever actually runs services (systemd user units
/// today, maybe something else later): ZenML's `provision`/`deprovision`/`check_status` trio.
///
/// Not obvious: `waitForChange` lets a backend that gets events (systemd's `PropertiesChanged`,
/// `JobRemoved`) wake the lifecycle as soon as something happens; the default merely sleeps for
/// `Backoff.delay(after:)`, never a fixed second.
public protocol ServiceProvisioner: Sendable {
    /// Starts whatever runs `service` (its endpoint port is already chosen and recorded).
    func provision(_ service: Service) async throws
    /// Stops whatever runs `service`; `force` asks for a kill instead of a graceful stop.
    func deprovision(_ service: Service, force: Bool) async throws
    /// Observes the service's operational state, with a message explaining it (empty when fine).
    func checkStatus(_ service: Service) async -> (ServiceState, String)
    /// Returns when the service's state may have changed, or at `deadline` at the latest.
    /// - Parameter since: when the caller began waiting, for the pace of its checks (`Backoff`).
    func waitForChange(_ service: Service, deadline: ContinuousClock.Instant, since: ContinuousClock.Instant) async
    /// Why the provisioner can no longer observe or act on services (e.g. its connection to the
    /// service manager broke), nil while it can. A wait ends at once with it as the cause.
    var lostConnection: (any Error)? { get }
}

extension ServiceProvisioner {
    public var lostConnection: (any Error)? { nil }

    public func waitForChange(_ service: Service, deadline: ContinuousClock.Instant, since: ContinuousClock.Instant) async {
        await Backoff.sleep(since: since, until: deadline)
    }
}

/// The pace of checks while waiting for something nothing announces (a port that starts to listen):
/// a twenty-fifth of the time waited so far, from 1 ms up to 20 ms.
///
/// Not obvious: the delay is what a check costs in latency (a server that binds just after a probe
/// is seen up to one delay later), while a loopback probe costs well under a millisecond. Tied to
/// the time waited, not to the number of wake-ups, a server that listens 100 ms into the wait is
/// seen within about 4 ms (with doubling per wake-up, the unit's own signals had already pushed the
/// pace to 20 ms by then, 10 ms late on average); a wait of 30 s still checks only about 1,600 times.
public enum Backoff {
    public static let floor: Duration = .milliseconds(1)
    public static let cap: Duration = .milliseconds(20)

    /// The delay before the next check, `elapsed` into the wait.
    public static func delay(after elapsed: Duration) -> Duration {
        min(max(elapsed / 25, floor), cap)
    }

    public static let probeFloor: Duration = .microseconds(500)

    /// The pace of a wait whose checks are only endpoint probes on loopback (the unit's own state
    /// comes from signals, not reads): a two-hundredth of the time waited, from 0.5 ms up to 20 ms.
    /// A server that listens 100 ms into the wait is seen within about 0.6 ms (a probe and its
    /// check take about 0.1 ms on loopback), for about 160 probes; a 30 s wait probes about 2,000
    /// times. A hundredth saw it 0.25 ms later on average (perf trace of 15 starts each).
    ///
    /// Not obvious: only for such waits. A check that reads the user manager (a `GetAll`, which
    /// its single-threaded event loop answers between starting units) keeps `delay(after:)`.
    public static func probeDelay(after elapsed: Duration) -> Duration {
        min(max(elapsed / 200, probeFloor), cap)
    }

    /// Sleeps for `delay(after:)` of a wait that began at `since`, never past `deadline`. Returns
    /// early if the task is cancelled.
    public static func sleep(since: ContinuousClock.Instant, until deadline: ContinuousClock.Instant) async {
        let clock = ContinuousClock()
        let now = clock.now
        let wake = min(now + delay(after: now - since), deadline)
        try? await clock.sleep(until: wake, tolerance: .microseconds(500))
    }
}
