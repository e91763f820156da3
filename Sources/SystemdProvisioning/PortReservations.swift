public import ServiceModel
import Synchronization

/// The ports this process has handed to services that are still starting, and (through `PortClaims`)
/// the ports other svcunit processes of this user are handing out.
///
/// ZenML's port selection checks that a port can be bound and uses it later, so two services started
/// at the same moment would both take the first free port: one would fail to bind, or worse, pass its
/// health check against the other's server. Claiming the port in the same step as the check closes
/// that race: within this process through a set under a mutex (`svcunit start A B`), between
/// processes through a claim file under an `flock` (six `svcunit start` processes at once). Not
/// obvious: the in-process claim lasts only until the start has finished, so a `restart` in the same
/// process can take its port again; the cross-process claim then passes to the service's main process.
public enum PortReservations {
    private static let claimed = Mutex<Set<UInt16>>([])

    /// True (and claimed) when `port` can be bound, no start in this process holds it and no other
    /// live svcunit process (or service it started) claims it.
    public static func claimIfFree(_ port: TCPPort, claims: PortClaims?) -> Bool {
        claimed.withLock { ports in
            guard !ports.contains(port.rawValue) else { return false }
            let free = claims?.claim(port, isFree: PortPolicy.canBindLoopback) ?? PortPolicy.canBindLoopback(port)
            guard free else { return false }
            ports.insert(port.rawValue)
            return true
        }
    }

    /// The start is over: this process no longer holds `port`. With `runningAs`, the service's main
    /// process takes over the cross-process claim; without, the claim is dropped.
    public static func release(_ port: TCPPort?, claims: PortClaims?, runningAs pid: UInt32? = nil) {
        guard let port else { return }
        if let pid, pid > 0, let owner = Int32(exactly: pid) {
            claims?.handOver(port, to: owner)
        } else {
            claims?.release(port)
        }
        _ = claimed.withLock { $0.remove(port.rawValue) }
    }
}
