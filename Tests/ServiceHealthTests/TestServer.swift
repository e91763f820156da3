import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tiny loopback server on plain POSIX sockets, for probing real listeners.
///
/// - `listenOnly`: listens but never accepts (the kernel still completes TCP handshakes).
/// - `http(status:)`: answers every request with that status and closes.
/// - `silent`: accepts connections and never writes a byte.
/// - `raw(text)`: reads the request head, answers with exactly `text` and closes.
/// - `closeAtOnce`: accepts and closes without reading or writing.
final class TestServer: @unchecked Sendable {
    enum Behaviour: Equatable {
        case listenOnly
        case http(status: Int)
        case silent
        case raw(String)
        case closeAtOnce
    }

    let port: UInt16
    private let fd: Int32
    private let behaviour: Behaviour
    private let lock = NSLock()
    private var _requests: [String] = []
    private var _heads: [String] = []
    private var held: [Int32] = []
    private var thread: Thread?

    /// The request lines received (`GET /health HTTP/1.1`).
    var requests: [String] { lock.withLock { _requests } }
    /// The whole request heads received, request line and headers, up to the blank line.
    var heads: [String] { lock.withLock { _heads } }

    /// Listens on 127.0.0.1, or on ::1 only with `ipv6`.
    init(_ behaviour: Behaviour, ipv6: Bool = false) throws {
        self.behaviour = behaviour
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_addr = in6addr_loopback
            port = try Self.bindAndListen(fd, address) { UInt16(bigEndian: $0.sin6_port) }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            port = try Self.bindAndListen(fd, address) { UInt16(bigEndian: $0.sin_port) }
        }
        self.fd = fd
        if behaviour != .listenOnly {
            let thread = Thread { [self] in acceptLoop() }
            self.thread = thread
            thread.start()
        }
    }

    /// Binds `fd` to `address` (port 0), listens, and returns the port the kernel chose.
    private static func bindAndListen<Address>(_ fd: Int32, _ address: Address, port: (Address) -> UInt16) throws -> UInt16 {
        var address = address
        let size = socklen_t(MemoryLayout<Address>.size)
        var result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        guard result == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = size
        result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return port(address)
    }

    private func acceptLoop() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 {  // the listening socket was shut down: only now may its number be reused
                close(fd)
                return
            }
            switch behaviour {
            case .listenOnly: close(client)
            case .silent: lock.withLock { held.append(client) }
            case .http(let status): answer(client, status: status)
            case .raw(let text):
                _ = readHead(client)
                let bytes = Array(text.utf8)
                var offset = 0
                while offset < bytes.count {
                    let written = bytes.withUnsafeBytes { send(client, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
                    if written <= 0 { break }  // the probe stopped reading (it needs only the status line)
                    offset += written
                }
                close(client)
            case .closeAtOnce: close(client)
            }
        }
    }

    /// Reads up to the blank line after the request headers; records the head and its first line.
    private func readHead(_ client: Int32) -> String {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !received.containsHeaderEnd {
            let count = read(client, &buffer, buffer.count)
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        let head = String(decoding: received, as: UTF8.self)
        let requestLine = head.components(separatedBy: "\r\n").first ?? ""
        lock.withLock {
            _requests.append(requestLine)
            _heads.append(head)
        }
        return requestLine
    }

    private func answer(_ client: Int32, status: Int) {
        let requestLine = readHead(client)
        let body = status == 200 ? "ok" : "unavailable"
        let response = "HTTP/1.1 \(status) Status\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(requestLine.hasPrefix("HEAD") ? "" : body)"
        _ = response.withCString { write(client, $0, strlen($0)) }
        close(client)
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        // With an accept thread, that thread closes the socket when accept(2) fails: closing it here
        // could let the blocked accept(2) pick up the next server's socket under the same number.
        if thread == nil { close(fd) }
        lock.withLock {
            for client in held { close(client) }
            held.removeAll()
        }
    }

    /// A loopback port with nothing listening on it (bound and released again).
    static func closedPort() throws -> UInt16 {
        let server = try TestServer(.listenOnly)
        let port = server.port
        server.stop()
        return port
    }
}

private extension [UInt8] {
    var containsHeaderEnd: Bool {
        count >= 4 && (0...(count - 4)).contains { self[$0] == 13 && self[$0 + 1] == 10 && self[$0 + 2] == 13 && self[$0 + 3] == 10 }
    }
}

/// `openssl s_server -www` on 127.0.0.1 with a certificate made for the test (Debian's `openssl`
/// command; no network). `-www` answers `GET /` with `HTTP/1.0 200 ok`.
final class TLSTestServer: @unchecked Sendable {
    enum Certificate {
        /// Signed by itself: no store trusts it.
        case selfSigned
        /// Signed by a throwaway CA (`caFile`), for the names given as subjectAltName.
        case signedByTestCA(subjectAltName: String)
    }

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }

    let port: UInt16
    /// The CA certificate that signed the server's (for `.selfSigned`, the server's own).
    let caFile: String
    private let directory: String
    private let process: Process

    init(_ certificate: Certificate) throws {
        directory = NSTemporaryDirectory() + "svcunit-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let key = directory + "/server.key", cert = directory + "/server.pem"
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
        switch certificate {
        case .selfSigned:
            try Self.openssl(["req", "-x509"] + ec + ["-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                                                     "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            caFile = cert
        case .signedByTestCA(let names):
            let caKey = directory + "/ca.key", ca = directory + "/ca.pem", request = directory + "/server.csr"
            let extensions = directory + "/ext.cnf"
            try Self.openssl(["req", "-x509"] + ec + ["-keyout", caKey, "-out", ca, "-subj", "/CN=svcunit test CA"])
            try Self.openssl(["req"] + ec + ["-keyout", key, "-out", request, "-subj", "/CN=svcunit test server"])
            try "subjectAltName=\(names)\n".write(toFile: extensions, atomically: true, encoding: .utf8)
            try Self.openssl(["x509", "-req", "-in", request, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2",
                              "-out", cert, "-extfile", extensions])
            caFile = ca
        }
        port = try TestServer.closedPort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", cert, "-key", key, "-www", "-quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready when it accepts a connection (at most 10 s).
        for _ in 0..<1000 {
            if Self.accepts(port) { return }
            usleep(10_000)
        }
        stop()
        throw POSIXError(.ETIMEDOUT)
    }

    func stop() {
        // SIGKILL: the child may inherit a mask that blocks SIGTERM from the Dispatch thread that spawned it.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw POSIXError(.EINVAL) }
    }

    private static func accepts(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = port.bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
