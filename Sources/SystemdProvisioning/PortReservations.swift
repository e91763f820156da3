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
    /// The ports held by starts of this process, with the service each is for and how many of this
    /// process's starts of it hold it (two starts of one service at once share its port).
    private static let claimed = Mutex<[UInt16: (service: ServiceUUID?, starts: Int)]>([:])

    /// True (and claimed) when `port` can be bound, no start in this process holds it and no other
    /// live svcunit process (or service it started) claims it; also true when what holds it is a
    /// start or the run of `service` itself (two `svcunit start`s of one service at once: the unit
    /// decides which of them runs it, and both watch that run).
    public static func claimIfFree(_ port: TCPPort, for service: ServiceUUID?, claims: PortClaims?) -> Bool {
        claimed.withLock { ports in
            if let held = ports[port.rawValue] {
                guard let service, held.service == service else { return false }
                ports[port.rawValue]?.starts += 1
                return true
            }
            let free = claims?.claim(port, for: service, isFree: PortPolicy.canBindLoopback) ?? PortPolicy.canBindLoopback(port)
            guard free else { return false }
            ports[port.rawValue] = (service, 1)
            return true
        }
    }

    /// A start of `service` that adopts `port` from another start of it in this process (the one
    /// whose unit runs) holds it too, so that its end, which releases the port it watched, leaves
    /// that start's reservation in place. Nothing happens for a port this process does not hold for
    /// `service` (the other start ran in another process, whose claim this process never drops).
    public static func share(_ port: TCPPort, for service: ServiceUUID) {
        claimed.withLock { ports in
            if let held = ports[port.rawValue], held.service == service { ports[port.rawValue]?.starts += 1 }
        }
    }

    /// A start is over: it no longer holds `port`. When it was this process's last start holding
    /// it, the cross-process claim passes to the service's main process (`runningAs`) or is dropped.
    public static func release(_ port: TCPPort?, claims: PortClaims?, runningAs pid: UInt32? = nil) {
        guard let port else { return }
        claimed.withLock { ports in
            if let held = ports[port.rawValue], held.starts > 1 {
                ports[port.rawValue]?.starts -= 1
                return
            }
            if let pid, pid > 0, let owner = Int32(exactly: pid) {
                claims?.handOver(port, to: owner)
            } else {
                claims?.release(port)
            }
            ports[port.rawValue] = nil
        }
    }
}
