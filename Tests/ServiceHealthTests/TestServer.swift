import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tiny loopback server on plain POSIX sockets, for probing real listeners.
///
/// - `listenOnly`: listens but never accepts (the kernel still completes TCP handshakes).
/// - `http(status:)`: answers every request with that status and closes.
/// - `silent`: accepts connections and never writes a byte.
final class TestServer: @unchecked Sendable {
    enum Behaviour: Equatable {
        case listenOnly
        case http(status: Int)
        case silent
    }

    let port: UInt16
    private let fd: Int32
    private let behaviour: Behaviour
    private let lock = NSLock()
    private var _requests: [String] = []
    private var held: [Int32] = []
    private var thread: Thread?

    /// The request lines received (`GET /health HTTP/1.1`).
    var requests: [String] { lock.withLock { _requests } }

    init(_ behaviour: Behaviour) throws {
        self.behaviour = behaviour
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = 0
        var result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        self.fd = fd
        if behaviour != .listenOnly {
            let thread = Thread { [self] in acceptLoop() }
            self.thread = thread
            thread.start()
        }
    }

    private func acceptLoop() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return }  // the listening socket was shut down
            switch behaviour {
            case .listenOnly: close(client)
            case .silent: lock.withLock { held.append(client) }
            case .http(let status): answer(client, status: status)
            }
        }
    }

    private func answer(_ client: Int32, status: Int) {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !received.containsHeaderEnd {
            let count = read(client, &buffer, buffer.count)
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        let requestLine = String(decoding: received, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
        lock.withLock { _requests.append(requestLine) }
        let body = status == 200 ? "ok" : "unavailable"
        let response = "HTTP/1.1 \(status) Status\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(requestLine.hasPrefix("HEAD") ? "" : body)"
        _ = response.withCString { write(client, $0, strlen($0)) }
        close(client)
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
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
