// How a probe connects: every address a hostname resolves to, in the resolver's order, until one
// accepts, all before one deadline (the sockets themselves are OSCalls').
import OSCalls
import Synchronization

extension Sockets {
    /// What each host and port resolved to in the last second. A start probes its endpoint every
    /// millisecond or so, and each `getaddrinfo` reads /etc/nsswitch.conf, /etc/resolv.conf and
    /// /etc/hosts again (strace); a second is far shorter than any change a probe should follow.
    private static let recentResolutions = Mutex<[String: (addresses: [ResolvedAddress], at: ContinuousClock.Instant)]>([:])
    static let resolutionLifetime: Duration = .seconds(1)

    /// `resolve(host:port:)`, reusing an answer younger than `resolutionLifetime`; only non-empty
    /// answers are kept.
    static func resolveRecent(host: String, port: UInt16) -> Result<[ResolvedAddress], ResolveFailure> {
        let key = "\(host) \(port)", now = ContinuousClock.now
        if let recent = recentResolutions.withLock({ $0[key] }), now - recent.at < resolutionLifetime {
            return .success(recent.addresses)
        }
        let result = resolve(host: host, port: port)
        if case .success(let addresses) = result, !addresses.isEmpty {
            recentResolutions.withLock { $0[key] = (addresses, now) }
        }
        return result
    }

    /// Resolves `host` (`resolveRecent`) and connects to its addresses in the resolver's order until one accepts, all
    /// before `deadline`. The failure is the message the monitors report after their label:
    /// `connection refused`, `timed out after <timeoutText> s`, `cannot resolve host …`, or per
    /// address (`connection refused on [::1]:80; timed out after 1 s on 127.0.0.1:80`) when they
    /// differ. Blocks the calling thread (callers run it off the cooperative pool).
    static func connectFirst(host: String, port: UInt16, deadline: Deadline, timeoutText: String) -> Result<ConnectedSocket, ProbeFailure> {
        let addresses: [ResolvedAddress]
        switch resolveRecent(host: host, port: port) {
        case .success(let resolved) where !resolved.isEmpty: addresses = resolved
        case .success: return .failure(ProbeFailure("cannot resolve host \(host)"))
        case .failure(let failure): return .failure(ProbeFailure("cannot resolve host \(host): \(failure.message)"))
        }
        var failures: [(String, ConnectOutcome)] = []
        for address in addresses {
            let remaining = deadline.remainingMilliseconds
            if remaining <= 0 {
                failures.append((address.text, .timedOut))
                break
            }
            switch open(address, deadline: deadline) {
            case .success(let fd): return .success(ConnectedSocket(fd: fd, peer: address.text))
            case .failure(let outcome): failures.append((address.text, outcome))
            }
        }
        func text(_ outcome: ConnectOutcome) -> String {
            switch outcome {
            case .connected: "connected"
            case .refused: "connection refused"
            case .timedOut: "timed out after \(timeoutText) s"
            case .failed(let reason): reason
            }
        }
        // One message when every address failed the same way; otherwise say which failed how.
        let distinct = Set(failures.map { text($0.1) })
        if distinct.count == 1, let only = distinct.first { return .failure(ProbeFailure(only)) }
        return .failure(ProbeFailure(failures.map { "\(text($0.1)) on \($0.0)" }.joined(separator: "; ")))
    }

}
