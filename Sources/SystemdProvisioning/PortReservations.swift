public import ServiceModel
import Synchronization

/// The ports this process has handed to services that are still starting.
///
/// ZenML's port selection checks that a port can be bound and uses it later, so two services started
/// at the same moment (`svcunit start A B`) would both take the first free port and one would fail
/// to bind. Claiming the port in the same step as the check closes that race within one process
/// (between processes it remains, as in ZenML). Not obvious: a claim lasts only until the start has
/// finished, so a `restart` in the same process can take its port again.
public enum PortReservations {
    private static let claimed = Mutex<Set<UInt16>>([])

    /// True (and claimed) when `port` can be bound and no start in this process holds it.
    @Sendable public static func claimIfFree(_ port: TCPPort) -> Bool {
        claimed.withLock { ports in
            guard !ports.contains(port.rawValue), PortPolicy.canBindLoopback(port) else { return false }
            ports.insert(port.rawValue)
            return true
        }
    }

    public static func release(_ port: TCPPort?) {
        guard let port else { return }
        _ = claimed.withLock { $0.remove(port.rawValue) }
    }
}
