// The only file in ServiceHealth that calls the C library. Foundation has no TCP connect with a
// timeout, so the TCP probe is a non-blocking connect(2) bounded by poll(2), one resolved address
// at a time.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What happened when connecting to one address.
enum ConnectOutcome: Sendable, Equatable {
    case connected
    case refused
    case timedOut
    case failed(String)
}

/// One address a hostname resolved to, with its printable form (`127.0.0.1:8000`, `[::1]:8000`).
struct ResolvedAddress: Sendable {
    var storage: [UInt8]
    var family: Int32
    var text: String
}

enum Sockets {
    /// Resolves `host` for TCP. Returns the addresses in the resolver's order, or an error text.
    static func resolve(host: String, port: UInt16) -> Result<[ResolvedAddress], ResolveFailure> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            return .failure(ResolveFailure(message: String(cString: gai_strerror(status))))
        }
        defer { freeaddrinfo(first) }
        var result: [ResolvedAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                let length = Int(entry.pointee.ai_addrlen)
                let bytes = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(address), count: length))
                result.append(ResolvedAddress(storage: bytes, family: entry.pointee.ai_family, text: describe(address, port: port)))
            }
            cursor = entry.pointee.ai_next
        }
        return .success(result)
    }

    struct ResolveFailure: Error { var message: String }

    private static func describe(_ address: UnsafeMutablePointer<sockaddr>, port: UInt16) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if Int32(address.pointee.sa_family) == AF_INET6 {
            address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                var addr = pointer.pointee.sin6_addr
                _ = inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
            }
            return "[\(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })]:\(port)"
        }
        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
            var addr = pointer.pointee.sin_addr
            _ = inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
        }
        return "\(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }):\(port)"
    }

    /// Connects to `address`, waiting at most `timeoutMilliseconds`; closes the socket again.
    /// Blocks the calling thread (callers run it off the cooperative pool).
    static func connect(to address: ResolvedAddress, timeoutMilliseconds: Int32) -> ConnectOutcome {
        #if canImport(Darwin)
        let fd = socket(address.family, SOCK_STREAM, 0)
        #else
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #endif
        guard fd >= 0 else { return .failed("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let status = address.storage.withUnsafeBytes { raw in
            Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if status == 0 { return .connected }
        if errno != EINPROGRESS { return outcome(errno: errno) }
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        var remaining = max(timeoutMilliseconds, 0)
        let start = DispatchTime.now()
        while true {
            let ready = poll(&descriptor, 1, remaining)
            if ready > 0 { break }
            if ready == 0 { return .timedOut }
            if errno != EINTR { return .failed("poll: \(String(cString: strerror(errno)))") }
            let elapsed = Int32((DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1_000_000)
            remaining = max(timeoutMilliseconds - elapsed, 0)
        }
        var socketError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length) != 0 {
            return .failed("getsockopt: \(String(cString: strerror(errno)))")
        }
        return socketError == 0 ? .connected : outcome(errno: socketError)
    }

    private static func outcome(errno code: Int32) -> ConnectOutcome {
        switch code {
        case ECONNREFUSED: .refused
        case ETIMEDOUT: .timedOut
        case ENETUNREACH: .failed("network unreachable")
        case EHOSTUNREACH: .failed("host unreachable")
        case EADDRNOTAVAIL: .failed("address not available")
        default: .failed(String(cString: strerror(code)).lowercased())
        }
    }
}
