// The C library's sockets for the TCP and HTTP probes. Foundation has no TCP connect with a
// timeout, so a probe is a non-blocking connect(2) bounded by poll(2), one resolved address at a
// time, and the HTTP probe's reads and writes are bounded by poll(2) against the same deadline.
import Glibc

/// What happened when connecting to one address.
public enum ConnectOutcome: Error, Equatable {
    case connected
    case refused
    case timedOut
    case failed(String)
}

/// One address a hostname resolved to, with its printable form (`127.0.0.1:8000`, `[::1]:8000`).
public struct ResolvedAddress: Sendable {
    public var storage: [UInt8]
    public var family: Int32
    public var text: String
}

/// A point in time by which a whole probe must be done.
public struct Deadline: Sendable {
    private let end: ContinuousClock.Instant

    public init(milliseconds: Int32) { end = .now + .milliseconds(max(milliseconds, 0)) }

    /// Milliseconds left, 0 when the deadline has passed (rounded up, so 0 means really over).
    public var remainingMilliseconds: Int32 { PollTimeout.until(end) }
}

/// A connected TCP socket owned by one probe; `close()` it exactly once.
public struct ConnectedSocket: Sendable {
    public let fd: Int32
    /// The address it is connected to, e.g. `127.0.0.1:8000`.
    public let peer: String

    public init(fd: Int32, peer: String) { (self.fd, self.peer) = (fd, peer) }

    public func close() { _ = Glibc.close(fd) }

    /// Writes all of `bytes` before the deadline (see `Sockets.send`).
    public func write(_ bytes: [UInt8], deadline: Deadline) -> Result<Void, TransferFailure> {
        Sockets.send(fd, bytes, deadline: deadline)
    }

    /// Reads what is there, at most `maximum` bytes (see `Sockets.receive`).
    public func read(maximum: Int, deadline: Deadline) -> Result<[UInt8], TransferFailure> {
        Sockets.receive(fd, maximum: maximum, deadline: deadline)
    }
}

/// Why reading or writing a connected socket stopped.
public enum TransferFailure: Error, Equatable {
    case timedOut
    /// The peer closed or reset the connection.
    case closed
    case failed(String)
}

public enum Sockets {
    /// Resolves `host` for TCP. Returns the addresses in the resolver's order, or an error text.
    public static func resolve(host: String, port: UInt16) -> Result<[ResolvedAddress], ResolveFailure> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
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

    public struct ResolveFailure: Error { public var message: String }

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

    /// A non-blocking socket connected to `address` before `deadline`. It stays non-blocking: reads
    /// and writes go through `send`/`receive` below (or TLS), bounded by poll(2).
    public static func open(_ address: ResolvedAddress, deadline: Deadline) -> Result<Int32, ConnectOutcome> {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .failure(.failed("socket: \(String(cString: strerror(errno)))")) }
        let status = address.storage.withUnsafeBytes { raw in
            Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if status == 0 { return .success(fd) }
        let code = errno
        if code != EINPROGRESS {
            close(fd)
            return .failure(outcome(errno: code))
        }
        switch wait(fd, for: Int16(POLLOUT), deadline: deadline) {
        case .failure(.timedOut):
            close(fd)
            return .failure(.timedOut)
        case .failure(let failure):
            close(fd)
            if case .failed(let text) = failure { return .failure(.failed("poll: \(text)")) }
            return .failure(.timedOut)
        case .success: break
        }
        var socketError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length) != 0 {
            let text = String(cString: strerror(errno))
            close(fd)
            return .failure(.failed("getsockopt: \(text)"))
        }
        if socketError == 0 { return .success(fd) }
        close(fd)
        return .failure(outcome(errno: socketError))
    }

    /// Waits until `fd` is ready for `events` (POLLIN or POLLOUT), the peer hung up, or the deadline.
    public static func wait(_ fd: Int32, for events: Int16, deadline: Deadline) -> Result<Void, TransferFailure> {
        var descriptor = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let remaining = deadline.remainingMilliseconds
            if remaining <= 0 { return .failure(.timedOut) }
            let ready = poll(&descriptor, 1, remaining)
            if ready > 0 { return .success(()) }  // readiness, POLLHUP or POLLERR: the next call says which
            if ready == 0 { return .failure(.timedOut) }
            if errno != EINTR { return .failure(.failed(String(cString: strerror(errno)))) }
        }
    }

    /// Writes all of `bytes` before the deadline. MSG_NOSIGNAL: a peer that already closed gives
    /// EPIPE here, never a SIGPIPE that would end the whole process.
    public static func send(_ fd: Int32, _ bytes: [UInt8], deadline: Deadline) -> Result<Void, TransferFailure> {
        var offset = 0
        while offset < bytes.count {
            let sent = transfer(fd, waitingFor: Int16(POLLOUT), deadline: deadline) {
                bytes.withUnsafeBytes { raw in Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL)) }
            }
            switch sent {
            case .success(let count): offset += count
            case .failure(let failure): return .failure(failure)
            }
        }
        return .success(())
    }

    /// Reads what is there (at most `maximum` bytes), waiting for data until the deadline.
    /// `.failure(.closed)` at end of stream.
    public static func receive(_ fd: Int32, maximum: Int, deadline: Deadline) -> Result<[UInt8], TransferFailure> {
        var buffer = [UInt8](repeating: 0, count: maximum)
        let received = transfer(fd, waitingFor: Int16(POLLIN), deadline: deadline) {
            buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        }
        switch received {
        case .success(0): return .failure(.closed)
        case .success(let count): return .success(Array(buffer[0..<count]))
        case .failure(let failure): return .failure(failure)
        }
    }

    /// Runs `call` (one send or recv on the non-blocking `fd`) until it moves bytes or ends: EINTR
    /// calls again, EAGAIN waits for `events` before the deadline first.
    private static func transfer(_ fd: Int32, waitingFor events: Int16, deadline: Deadline, _ call: () -> Int) -> Result<Int, TransferFailure> {
        while true {
            let count = call()
            if count >= 0 { return .success(count) }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                if case .failure(let failure) = wait(fd, for: events, deadline: deadline) { return .failure(failure) }
                continue
            }
            return .failure(transferFailure(errno: code))
        }
    }

    public static func transferFailure(errno code: Int32) -> TransferFailure {
        switch code {
        case ECONNRESET, EPIPE, ECONNABORTED: .closed
        case ETIMEDOUT: .timedOut
        default: .failed(String(cString: strerror(code)).lowercased())
        }
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

/// A probe that did not get an answer, with the text that follows the monitor's label.
public struct ProbeFailure: Error, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
