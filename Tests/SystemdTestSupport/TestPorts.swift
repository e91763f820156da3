import Foundation
import OSCalls

/// Ports for the tests' services.
public enum TestPorts {
    /// A random port of 127.0.0.1 that can be bound now, below the kernel's ephemeral range.
    /// Not obvious: a free port inside that range (32768-60999 here) can be taken at any moment by
    /// an outgoing connection's local end; a service told to listen on it then fails with "Address
    /// already in use" (seen: a health supervision test's Python server). Below it only explicit
    /// binds compete.
    public static func free() -> Int {
        while true {
            let port = Int.random(in: 10000 ..< ephemeralLow)
            if PortProbe.canBindLoopback(port: UInt16(port)) { return port }
        }
    }

    /// The first port of `ip_local_port_range` (32768 when it cannot be read).
    public static let ephemeralLow: Int = {
        let words = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
            .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) } ?? []
        return max(words.first ?? 32768, 12000)
    }()
}
