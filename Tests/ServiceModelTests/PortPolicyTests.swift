import Foundation
import ServiceModel
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Port policy")
struct PortPolicyTests {
    static func policy(busy: Set<Int>, range: ClosedRange<Int> = 9000...9003) -> PortPolicy {
        PortPolicy(scanRange: range) { !busy.contains($0.value) }
    }

    @Test func configuredPortIsUsedWhenFree() throws {
        #expect(try Self.policy(busy: []).selectPort(preferred: TCPPort(8080), allocate: false, lastUsed: TCPPort(9001)) == TCPPort(8080))
    }

    @Test func busyConfiguredPortWithoutAllocationIsAnErrorNamingThePort() throws {
        let error = try #require(modelError {
            _ = try Self.policy(busy: [8080]).selectPort(preferred: TCPPort(8080), allocate: false, lastUsed: TCPPort(9001))
        })
        #expect(error.code == .portUnavailable)
        #expect(error.message.contains("TCP port 8080"))
        #expect(error.fieldPath == "endpoint.config.port")
        #expect(error.description.contains("allocate_port"))
    }

    @Test func busyConfiguredPortFallsBackToLastUsedThenScan() throws {
        let policy = Self.policy(busy: [8080, 9000])
        #expect(try policy.selectPort(preferred: TCPPort(8080), allocate: true, lastUsed: TCPPort(9002)) == TCPPort(9002))
        #expect(try policy.selectPort(preferred: TCPPort(8080), allocate: true, lastUsed: TCPPort(9000)) == TCPPort(9001))
        #expect(try policy.selectPort(preferred: nil, allocate: true, lastUsed: nil) == TCPPort(9001))
    }

    @Test func noFreePortIsAnErrorNamingTheRange() throws {
        let error = try #require(modelError {
            _ = try Self.policy(busy: [9000, 9001, 9002, 9003]).selectPort(preferred: nil, allocate: true, lastUsed: nil)
        })
        #expect(error.code == .noFreePort)
        #expect(error.message.contains("9000…9003"))
    }

    @Test func realProbeSeesABoundPortAsBusy() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0)
        #expect(listen(fd, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port = try #require(TCPPort(Int(UInt16(bigEndian: address.sin_port))))
        #expect(PortPolicy.canBindLoopback(port) == false)
        let error = try #require(modelError { _ = try PortPolicy().selectPort(preferred: port, allocate: false, lastUsed: nil) })
        #expect(error.message.contains("TCP port \(port)"))
        let other = try PortPolicy().selectPort(preferred: port, allocate: true, lastUsed: nil)
        #expect(other != port)
    }

    /// A stopped server's port whose connections linger in TIME_WAIT is free again (as in ZenML,
    /// with SO_REUSEADDR), so a restart keeps its port.
    ///
    /// The port is a fixed one below the kernel's ephemeral range, not one `bind(0)` hands out: once
    /// the server closes, an ephemeral port goes back to the pool, and another test's outgoing
    /// connection or `bind(0)` may take it before the assertion (seen in CI).
    @Test func aPortInTimeWaitIsFreeAgain() throws {
        func sockaddrIn(_ port: UInt16) -> sockaddr_in {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            a.sin_port = port.bigEndian
            return a
        }
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
            .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) } ?? []
        let ephemeralLow = range.first ?? 32768
        try #require(ephemeralLow > 12000, "the ephemeral range starts at \(ephemeralLow)")
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        _ = setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var portNumber: UInt16 = 0
        for _ in 0..<200 {
            let candidate = UInt16(Int.random(in: 10000..<ephemeralLow))
            var address = sockaddrIn(candidate)
            if withUnsafePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }) == 0 {
                portNumber = candidate
                break
            }
        }
        try #require(portNumber != 0, "a free port below \(ephemeralLow)")
        #expect(listen(server, 1) == 0)
        let port = try #require(TCPPort(Int(portNumber)))

        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var target = sockaddrIn(portNumber)
        #expect(withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0)
        let accepted = accept(server, nil, nil)
        #expect(accepted >= 0)
        #expect(PortPolicy.canBindLoopback(port) == false, "busy while listening")
        // The server side closes first: its connection goes to TIME_WAIT, as after an HTTP/1.0 reply.
        close(accepted)
        close(server)
        close(client)
        #expect(PortPolicy.canBindLoopback(port) == true)
        #expect(try PortPolicy().selectPort(preferred: port, allocate: false, lastUsed: nil) == port)
    }
}
