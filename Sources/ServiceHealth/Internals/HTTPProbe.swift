// One HTTP/1.1 GET or HEAD to the endpoint's own host:port, reading only the status line: what a
// health check needs, over OSCalls' sockets (and its TLS for https). No redirects, no proxies, no
// cookies, no body, no keep-alive.
import OSCalls

/// A byte stream to the endpoint: the plain socket, or TLS over it.
protocol ProbeTransport {
    func write(_ bytes: [UInt8], deadline: Deadline) -> Result<Void, TransferFailure>
    func read(maximum: Int, deadline: Deadline) -> Result<[UInt8], TransferFailure>
    func close()
}

extension ConnectedSocket: ProbeTransport {}
extension TLSConnection: ProbeTransport {}

/// One probe request. `run()` blocks the calling thread for at most the timeout (plus name
/// resolution), so callers run it off the cooperative pool.
struct HTTPProbe: Sendable {
    var method: String
    /// What to connect to: the endpoint's hostname (without IPv6 brackets) and port.
    var host: String
    var port: UInt16
    /// The `Host` header: `host:port` as in the URL (`[::1]:8000`).
    var authority: String
    /// The request target: path and query, never empty.
    var target: String
    var useTLS: Bool
    var timeoutSeconds: Int
    /// Certificates trusted instead of the system store (tests only).
    var trustedCertificatesFile: String? = nil

    /// Longest status line accepted (RFC 9112 recommends supporting at least 8000 octets for the
    /// request line; a status line is much shorter in practice).
    static let lineLimit = 8192
    /// Most bytes read in all, interim (1xx) responses included.
    static let readLimit = 65536

    static let closedMessage = "connection closed before a complete response"
    static let invalidMessage = "the server's response is not valid HTTP"

    var request: [UInt8] {
        Array("\(method) \(target) HTTP/1.1\r\nHost: \(authority)\r\nUser-Agent: svcunit\r\nAccept: */*\r\nConnection: close\r\n\r\n".utf8)
    }

    /// The failure when the deadline passes, at whichever step: `timed out after 5 s`.
    var timedOut: ProbeFailure { ProbeFailure("timed out after \(timeoutSeconds) s") }

    /// The final status code, or the reason there is none.
    func run() -> Result<Int, ProbeFailure> {
        let deadline = Deadline(milliseconds: Int32(clamping: timeoutSeconds * 1000))
        var tls: OpenSSL?
        if useTLS {
            switch OpenSSL.shared {
            case .success(let library): tls = library
            case .failure(let failure): return .failure(failure)
            }
        }
        let socket: ConnectedSocket
        switch Sockets.connectFirst(host: host, port: port, deadline: deadline, timeoutText: String(timeoutSeconds)) {
        case .success(let connected): socket = connected
        case .failure(let failure): return .failure(failure)
        }
        let transport: any ProbeTransport
        if let tls {
            switch TLSConnection.handshake(library: tls, socket: socket, serverName: host, trustedCertificatesFile: trustedCertificatesFile, deadline: deadline) {
            case .success(let connection): transport = connection
            case .failure(let failure):
                socket.close()
                return .failure(failure == .timedOut ? timedOut : ProbeFailure(Self.describe(failure)))
            }
        } else {
            transport = socket
        }
        defer { transport.close() }
        if case .failure(let failure) = transport.write(request, deadline: deadline) {
            return .failure(failure == .timedOut ? timedOut : ProbeFailure(Self.describe(failure)))
        }
        return readStatus(from: transport, deadline: deadline)
    }

    /// Reads up to the final status line. Interim 1xx responses (except 101, never asked for) are
    /// skipped with their headers, as HTTP clients do; nothing after the status line is read.
    func readStatus(from transport: some ProbeTransport, deadline: Deadline) -> Result<Int, ProbeFailure> {
        var buffer: [UInt8] = []
        var lineStart = 0
        var inInterimHeaders = false
        while true {
            while let newline = buffer[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                var line = buffer[lineStart..<newline]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                lineStart = newline + 1
                if inInterimHeaders {
                    if line.isEmpty { inInterimHeaders = false }
                    continue
                }
                guard let status = Self.statusCode(ofLine: line) else { return .failure(ProbeFailure(Self.invalidMessage)) }
                if (100...199).contains(status) && status != 101 {
                    inInterimHeaders = true
                    continue
                }
                return .success(status)
            }
            let pending = buffer[lineStart...]
            if !inInterimHeaders && !Self.couldStartStatusLine(pending) { return .failure(ProbeFailure(Self.invalidMessage)) }
            if pending.count > Self.lineLimit || buffer.count > Self.readLimit { return .failure(ProbeFailure(Self.invalidMessage)) }
            switch transport.read(maximum: 4096, deadline: deadline) {
            case .success(let bytes): buffer += bytes
            case .failure(.timedOut): return .failure(timedOut)
            case .failure(let failure): return .failure(ProbeFailure(Self.describe(failure)))
            }
        }
    }

    static func describe(_ failure: TransferFailure) -> String {
        switch failure {
        case .timedOut: "timed out"
        case .closed: closedMessage
        case .failed(let text): text
        }
    }

    /// Whether `bytes` can be the beginning of `HTTP/`.
    static func couldStartStatusLine(_ bytes: ArraySlice<UInt8>) -> Bool {
        let prefix = Array("HTTP/".utf8)
        return zip(bytes, prefix).allSatisfy { $0 == $1 }
    }

    /// The status code of `HTTP/1.1 200 OK` (also `HTTP/1.0 404`, an empty reason), or `nil` when
    /// the line is not an HTTP/1.x status line.
    static func statusCode(ofLine line: ArraySlice<UInt8>) -> Int? {
        let bytes = Array(line)
        // "HTTP/" DIGIT "." DIGIT SP 3DIGIT [SP reason]
        guard bytes.count >= 12, couldStartStatusLine(bytes[...]), bytes[5] == UInt8(ascii: "1"), bytes[6] == UInt8(ascii: "."),
              isDigit(bytes[7]), bytes[8] == UInt8(ascii: " "), isDigit(bytes[9]), isDigit(bytes[10]), isDigit(bytes[11]),
              bytes.count == 12 || bytes[12] == UInt8(ascii: " ")
        else { return nil }
        let code = bytes[9...11].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        return (100...599).contains(code) ? code : nil
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
}
