// TLS for https probes: the system's OpenSSL (libssl.so.3), loaded with dlopen(3) the first time an
// https probe runs. Nothing links it, so a process that never probes https never maps it, and the
// package does not depend on it at build time. Certificates are verified against the system store
// (OpenSSL's certificate directory: /etc/ssl/certs on Debian, or SSL_CERT_DIR/SSL_CERT_FILE) and the
// endpoint's hostname or IP address, as URLSession (libcurl) did and as ZenML's requests does.
import Glibc

/// The few OpenSSL 3 functions the probe calls, resolved from the dlopen'ed library.
public final class OpenSSL: @unchecked Sendable {
    typealias Pointer = OpaquePointer?

    /// Loaded once, on first use; the failure says how to fix it.
    public static let shared: Result<OpenSSL, ProbeFailure> = load()

    let clientMethod: @convention(c) () -> Pointer
    let contextNew: @convention(c) (Pointer) -> Pointer
    let contextFree: @convention(c) (Pointer) -> Void
    let defaultCertificateDirectory: @convention(c) () -> UnsafePointer<CChar>?
    let loadVerifyLocations: @convention(c) (Pointer, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32
    let setVerify: @convention(c) (Pointer, Int32, OpaquePointer?) -> Void
    let sslNew: @convention(c) (Pointer) -> Pointer
    let sslFree: @convention(c) (Pointer) -> Void
    let setFD: @convention(c) (Pointer, Int32) -> Int32
    let control: @convention(c) (Pointer, Int32, Int, UnsafeMutableRawPointer?) -> Int
    let verifyParameters: @convention(c) (Pointer) -> Pointer
    let setExpectedHost: @convention(c) (Pointer, UnsafePointer<CChar>?, Int) -> Int32
    let setExpectedIP: @convention(c) (Pointer, UnsafePointer<CChar>?) -> Int32
    let connect: @convention(c) (Pointer) -> Int32
    let sslRead: @convention(c) (Pointer, UnsafeMutableRawPointer?, Int32) -> Int32
    let sslWrite: @convention(c) (Pointer, UnsafeRawPointer?, Int32) -> Int32
    let getError: @convention(c) (Pointer, Int32) -> Int32
    let verifyResult: @convention(c) (Pointer) -> Int
    let verifyErrorString: @convention(c) (Int) -> UnsafePointer<CChar>?
    let errorGet: @convention(c) () -> UInt
    let errorString: @convention(c) (UInt, UnsafeMutablePointer<CChar>?, Int) -> Void
    let errorClear: @convention(c) () -> Void

    /// The client context with the system's trusted certificates, made on first use and shared by
    /// every https probe of the process (an SSL_CTX may be used from several threads).
    private(set) lazy var systemContext: Result<Pointer, ProbeFailure> = makeContext(trusting: nil)
    private let lock = Mutex()

    // Constants from OpenSSL's headers (stable ABI since 1.1).
    static let verifyPeer: Int32 = 1  // SSL_VERIFY_PEER
    static let wantRead: Int32 = 2, wantWrite: Int32 = 3, syscall: Int32 = 5, zeroReturn: Int32 = 6  // SSL_ERROR_*
    static let setHostnameControl: Int32 = 55  // SSL_CTRL_SET_TLSEXT_HOSTNAME
    static let hostNameType = 0  // TLSEXT_NAMETYPE_host_name

    private init(_ handle: UnsafeMutableRawPointer) throws(ProbeFailure) {
        func symbol<T>(_ name: String, _: T.Type = T.self) throws(ProbeFailure) -> T {
            guard let address = dlsym(handle, name) else {
                throw ProbeFailure("TLS failed: libssl.so.3 has no \(name)")
            }
            return unsafeBitCast(address, to: T.self)
        }
        clientMethod = try symbol("TLS_client_method")
        contextNew = try symbol("SSL_CTX_new")
        contextFree = try symbol("SSL_CTX_free")
        defaultCertificateDirectory = try symbol("X509_get_default_cert_dir")
        loadVerifyLocations = try symbol("SSL_CTX_load_verify_locations")
        setVerify = try symbol("SSL_CTX_set_verify")
        sslNew = try symbol("SSL_new")
        sslFree = try symbol("SSL_free")
        setFD = try symbol("SSL_set_fd")
        control = try symbol("SSL_ctrl")
        verifyParameters = try symbol("SSL_get0_param")
        // libcrypto's, found through libssl's own dependency.
        setExpectedHost = try symbol("X509_VERIFY_PARAM_set1_host")
        setExpectedIP = try symbol("X509_VERIFY_PARAM_set1_ip_asc")
        connect = try symbol("SSL_connect")
        sslRead = try symbol("SSL_read")
        sslWrite = try symbol("SSL_write")
        getError = try symbol("SSL_get_error")
        verifyResult = try symbol("SSL_get_verify_result")
        verifyErrorString = try symbol("X509_verify_cert_error_string")
        errorGet = try symbol("ERR_get_error")
        errorString = try symbol("ERR_error_string_n")
        errorClear = try symbol("ERR_clear_error")
    }

    private static func load() -> Result<OpenSSL, ProbeFailure> {
        guard let handle = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            return .failure(ProbeFailure("TLS failed: https probes need OpenSSL 3 (libssl.so.3, Debian's libssl3): \(reason)"))
        }
        do { return .success(try OpenSSL(handle)) } catch { return .failure(error) }
    }

    /// A client context that verifies the peer against the system store, or against
    /// `trustedCertificatesFile` alone when one is given.
    ///
    /// Not obvious: the system store is used as OpenSSL's hashed certificate directory
    /// (`/usr/lib/ssl/certs` → `/etc/ssl/certs`, or `SSL_CERT_DIR`), where only the issuer needed
    /// is read. `SSL_CTX_set_default_verify_paths` would also parse the whole CA bundle file,
    /// about 60 ms of CPU per process here; the bundle is read only when `SSL_CERT_FILE` names one.
    func makeContext(trusting trustedCertificatesFile: String?) -> Result<Pointer, ProbeFailure> {
        errorClear()
        guard let context = contextNew(clientMethod()) else { return .failure(ProbeFailure("TLS failed: \(lastError())")) }
        var loaded: Int32
        if let trustedCertificatesFile {
            loaded = loadVerifyLocations(context, trustedCertificatesFile, nil)
        } else {
            let directory = getenv("SSL_CERT_DIR").map { String(cString: $0) }
                ?? defaultCertificateDirectory().map { String(cString: $0) } ?? "/etc/ssl/certs"
            loaded = loadVerifyLocations(context, nil, directory)
            if loaded == 1, let file = getenv("SSL_CERT_FILE") { loaded = loadVerifyLocations(context, file, nil) }
        }
        guard loaded == 1 else {
            contextFree(context)
            return .failure(ProbeFailure("TLS failed: cannot load the trusted certificates: \(lastError())"))
        }
        setVerify(context, Self.verifyPeer, nil)
        return .success(context)
    }

    func sharedSystemContext() -> Result<Pointer, ProbeFailure> {
        lock.withLock { systemContext }
    }

    /// OpenSSL's reason for the last error of this thread (`wrong version number`), or `unknown error`.
    func lastError() -> String {
        var last: UInt = 0
        while case let code = errorGet(), code != 0 { last = code }
        guard last != 0 else { return "unknown error" }
        var buffer = [CChar](repeating: 0, count: 256)
        errorString(last, &buffer, buffer.count)
        let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // "error:0A00010B:SSL routines::wrong version number" → "wrong version number"
        return text.split(separator: ":", omittingEmptySubsequences: false).last.map(String.init) ?? text
    }
}

/// A pthread mutex for the lazily made shared context.
private final class Mutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}

/// TLS over a connected socket, after a verified handshake.
public struct TLSConnection {
    let library: OpenSSL
    let ssl: OpaquePointer
    let socket: ConnectedSocket
    /// A context made for this connection alone (a test's trusted certificates), freed with it.
    let ownContext: OpaquePointer?

    /// Verifies the certificate chain against the trusted certificates and the name or IP address
    /// against `serverName`; the failure text starts with `TLS failed:`.
    public static func handshake(
        library: OpenSSL, socket: ConnectedSocket, serverName: String, trustedCertificatesFile: String?, deadline: Deadline
    ) -> Result<TLSConnection, TransferFailure> {
        let context: OpaquePointer
        var ownContext: OpaquePointer? = nil
        switch trustedCertificatesFile.map({ library.makeContext(trusting: $0) }) ?? library.sharedSystemContext() {
        case .success(let made?):
            context = made
            if trustedCertificatesFile != nil { ownContext = made }
        case .success(nil): return .failure(.failed("TLS failed: no context"))
        case .failure(let failure): return .failure(.failed(failure.message))
        }
        library.errorClear()
        guard let ssl = library.sslNew(context) else {
            if let ownContext { library.contextFree(ownContext) }
            return .failure(.failed("TLS failed: \(library.lastError())"))
        }
        let connection = TLSConnection(library: library, ssl: ssl, socket: socket, ownContext: ownContext)
        let isIPAddress = Self.isIPAddress(serverName)
        var configured = library.setFD(ssl, socket.fd) == 1
        let parameters = library.verifyParameters(ssl)
        if isIPAddress {
            configured = configured && library.setExpectedIP(parameters, serverName) == 1
        } else {
            // SNI (not for IP literals, RFC 6066) and the name the certificate must carry.
            configured = configured && serverName.withCString { name in
                library.control(ssl, OpenSSL.setHostnameControl, OpenSSL.hostNameType, UnsafeMutableRawPointer(mutating: name)) == 1
            }
            configured = configured && library.setExpectedHost(parameters, serverName, 0) == 1
        }
        guard configured else {
            connection.free()
            return .failure(.failed("TLS failed: \(library.lastError())"))
        }
        let result = withSIGPIPEBlocked {
            connection.retrying(deadline: deadline) { library.connect(ssl) }
        }
        switch result {
        case .success: return .success(connection)
        case .failure(let failure):
            connection.free()
            return .failure(failure)
        }
    }

    /// Runs an SSL_* call until it succeeds, waiting on the socket when OpenSSL wants to read or write.
    private func retrying(deadline: Deadline, _ call: () -> Int32) -> Result<Int32, TransferFailure> {
        while true {
            library.errorClear()
            errno = 0
            let result = call()
            if result > 0 { return .success(result) }
            let code = library.getError(ssl, result)
            switch code {
            case OpenSSL.wantRead, OpenSSL.wantWrite:
                let events = Int16(code == OpenSSL.wantRead ? POLLIN : POLLOUT)
                if case .failure(let failure) = Sockets.wait(socket.fd, for: events, deadline: deadline) { return .failure(failure) }
            case OpenSSL.zeroReturn: return .failure(.closed)
            case OpenSSL.syscall:
                let failure = errno == 0 ? TransferFailure.closed : Sockets.transferFailure(errno: errno)
                if case .failed(let text) = failure { return .failure(.failed("TLS failed: \(text)")) }
                return .failure(failure)
            default:
                let verification = library.verifyResult(ssl)
                if verification != 0 {  // X509_V_OK
                    let reason = library.verifyErrorString(verification).map { String(cString: $0) } ?? "error \(verification)"
                    return .failure(.failed("TLS failed: certificate verify failed: \(reason)"))
                }
                return .failure(.failed("TLS failed: \(library.lastError())"))
            }
        }
    }

    public func write(_ bytes: [UInt8], deadline: Deadline) -> Result<Void, TransferFailure> {
        withSIGPIPEBlocked {
            bytes.withUnsafeBytes { raw in
                // SSL_write without partial writes: it returns the whole count, or is retried with the same arguments.
                retrying(deadline: deadline) { library.sslWrite(ssl, raw.baseAddress, Int32(raw.count)) }.map { _ in }
            }
        }
    }

    public func read(maximum: Int, deadline: Deadline) -> Result<[UInt8], TransferFailure> {
        var buffer = [UInt8](repeating: 0, count: maximum)
        let result = withSIGPIPEBlocked {
            buffer.withUnsafeMutableBytes { raw in
                retrying(deadline: deadline) { library.sslRead(ssl, raw.baseAddress, Int32(raw.count)) }
            }
        }
        return result.map { Array(buffer[0..<Int($0)]) }
    }

    public func close() {
        free()
        socket.close()
    }

    private func free() {
        library.sslFree(ssl)
        if let ownContext { library.contextFree(ownContext) }
    }

    public static func isIPAddress(_ text: String) -> Bool {
        var storage = in6_addr()
        return inet_pton(AF_INET, text, &storage) == 1 || inet_pton(AF_INET6, text, &storage) == 1
    }
}

/// OpenSSL writes to the socket with write(2), which raises SIGPIPE when the peer has gone; that
/// would end the whole process. The signal is blocked in this thread meanwhile.
private func withSIGPIPEBlocked<T>(_ body: () -> T) -> T { Signals.withBlocked(.pipe, body) }
