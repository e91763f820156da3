/// Ports handed to services, claimed between the svcunit processes of one user.
///
/// Choosing a port is "check that it can be bound, use it later": two `svcunit start` processes that
/// check at the same moment both find the same port free, and the second service's health check then
/// passes against the first one's server. A claim closes that gap: the check and the claim are made
/// together under an `flock` on the claims directory, and a port claimed by another live process is
/// not free. A claim is a file named by the port holding its owner's PID and start time (so a reused
/// PID never inherits it): first the `svcunit` process that is starting the service, then, once the
/// service runs, its main process (`handOver`), so the port stays taken while the server may still
/// be binding it. A claim whose owner is gone is void; nothing has to clean up after a crash. A
/// claim also names the service it is for, so that a second start of that same service (two
/// `svcunit start`s at once) finds its port its own instead of taken; which of them runs the service
/// is decided by the unit, and both watch that run.
///
/// Not obvious: the directory is per user (`$XDG_RUNTIME_DIR/svcunit/port-claims`), not per store,
/// because ports belong to the machine; without a runtime directory the store's own
/// `<root>/.port-claims` serves (`list` ignores it: it is not a UUID). When the directory cannot be
/// used at all, the bind check alone decides, as it did before claims existed.
public struct PortClaims: Sendable {
    /// The directory holding one file per claimed port.
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The claims of the current user: under `XDG_RUNTIME_DIR` when it is set, else in the store.
    public static func forUser(runtimeDirectory: String?, store: ServiceStore) -> PortClaims {
        if let runtimeDirectory, runtimeDirectory.hasPrefix("/") {
            return PortClaims(directory: runtimeDirectory + "/svcunit/port-claims")
        }
        return PortClaims(directory: store.root + "/.port-claims")
    }

    /// One process for good: its PID and its start time.
    struct Owner: Equatable {
        var pid: Int32
        var startTime: UInt64

        static var current: Owner? {
            POSIX.processStartTime(POSIX.currentProcess).map { Owner(pid: POSIX.currentProcess, startTime: $0) }
        }

        static func of(_ pid: Int32) -> Owner? { POSIX.processStartTime(pid).map { Owner(pid: pid, startTime: $0) } }

        init(pid: Int32, startTime: UInt64) {
            self.pid = pid
            self.startTime = startTime
        }

        /// Whether this very process still runs.
        var isAlive: Bool { POSIX.processStartTime(pid) == startTime }
    }

    /// A claim file: `PID START-TIME [SERVICE-UUID]` (a file without the UUID, written before
    /// claims named their service, is for no service in particular).
    struct Claim: Equatable {
        var owner: Owner
        var service: ServiceUUID?

        var text: String { "\(owner.pid) \(owner.startTime)" + (service.map { " \($0.rawValue)" } ?? "") + "\n" }

        init(owner: Owner, service: ServiceUUID?) {
            self.owner = owner
            self.service = service
        }

        init?(text: String) {
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard words.count == 2 || words.count == 3, let pid = Int32(words[0]), let startTime = UInt64(words[1]) else { return nil }
            var service: ServiceUUID?
            if words.count == 3 {
                guard let uuid = ServiceUUID(rawValue: String(words[2])) else { return nil }
                service = uuid
            }
            self.init(owner: Owner(pid: pid, startTime: startTime), service: service)
        }
    }

    /// Claims `port` for this process and `service` when no other live process holds it and
    /// `isFree(port)` (the bind check) says so, both decided under the claims lock. True also when
    /// another live process holds it for the same service (a start of it under way, or its run):
    /// the port is that service's, bound or not, and nothing is recorded. Without a usable claims
    /// directory, `isFree` alone decides.
    public func claim(_ port: TCPPort, for service: ServiceUUID?, isFree: (TCPPort) -> Bool) -> Bool {
        guard let me = Owner.current else { return isFree(port) }
        let decided: Bool? = locked { () -> Bool in
            let path = file(port)
            if let held = claim(at: path), held.owner != me, held.owner.isAlive {
                return service != nil && held.service == service
            }
            guard isFree(port) else { return false }
            record(Claim(owner: me, service: service), at: path)
            return true
        }
        return decided ?? isFree(port)
    }

    /// Passes this process's claim on `port` to `pid` (the service's main process, which will listen on it).
    public func handOver(_ port: TCPPort, to pid: Int32) {
        guard let me = Owner.current, let running = Owner.of(pid) else { return release(port) }
        _ = locked {
            let path = file(port)
            if let held = claim(at: path), held.owner == me { record(Claim(owner: running, service: held.service), at: path) }
        }
    }

    /// Drops this process's claim on `port`, if it holds one.
    public func release(_ port: TCPPort) {
        guard let me = Owner.current else { return }
        _ = locked {
            let path = file(port)
            if claim(at: path)?.owner == me { POSIX.unlinkFile(path) }
        }
    }

    private func file(_ port: TCPPort) -> String { "\(directory)/\(port.rawValue)" }

    private func claim(at path: String) -> Claim? {
        POSIX.readText(path, limit: 256).flatMap(Claim.init(text:))
    }

    /// Replaces the claim file (under the lock, so no reader sees half of it; it is a few bytes).
    private func record(_ claim: Claim, at path: String) {
        POSIX.unlinkFile(path)
        POSIX.writeNewFile(path, claim.text)
    }

    /// Runs `body` under an exclusive `flock` on the claims directory (created 0700, parents too);
    /// nil when the directory cannot be made or locked, or is not safely ours.
    private func locked<T>(_ body: () -> T) -> T? {
        if (try? POSIX.lstatInfo(directory)) == nil {
            var path = ""
            for component in directory.split(separator: "/") {
                path += "/" + String(component)
                if (try? POSIX.lstatInfo(path)) == nil { try? POSIX.makeDirectory(path, mode: 0o700) }
            }
        }
        guard let info = try? POSIX.lstatInfo(directory), info.isDirectory, info.owner == POSIX.currentUser,
              info.mode & 0o022 == 0, let fd = try? POSIX.openDirectory(directory) else { return nil }
        defer { POSIX.closeFD(fd) }
        guard (try? POSIX.lockExclusive(fd)) != nil else { return nil }
        defer { POSIX.unlock(fd) }
        return body()
    }
}
