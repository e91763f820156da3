// The only file in ServiceModel that calls the C library directly. Foundation has no API for
// O_NOFOLLOW, flock, fsync of a directory or a bind probe, so these are thin wrappers that turn
// -1/errno into `POSIXError`-carrying `ServiceModelError`s at the call sites.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials

/// An errno value with its text, kept as the `cause` of model errors.
struct POSIXCallError: Error, Sendable, CustomStringConvertible {
    let call: String
    let errno: Int32
    var description: String { "\(call): \(String(cString: strerror(errno)))" }
    var reason: String { String(cString: strerror(errno)) }
}

/// The text of an error from FileManager or `Data(contentsOf:)`, for messages.
///
/// FoundationEssentials has no `localizedDescription`; this gives the C library's text for the
/// errno underneath (so messages read like the rest of svcunit's), else the error's description.
public enum SystemErrorText {
    public static func of(_ error: any Error) -> String {
        if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        if let cocoa = error as? CocoaError {
            if let posix = cocoa.underlying as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
            switch cocoa.code {
            case .fileNoSuchFile, .fileReadNoSuchFile: return String(cString: strerror(ENOENT))
            case .fileWriteNoPermission, .fileReadNoPermission: return String(cString: strerror(EACCES))
            case .fileWriteOutOfSpace: return String(cString: strerror(ENOSPC))
            default: break
            }
        }
        return "\(error)"
    }
}

enum POSIX {
    static func describe(_ error: any Error) -> String { SystemErrorText.of(error) }

    static func canBindLoopback(port: UInt16) -> Bool {
        #if canImport(Darwin)
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #else
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // SO_REUSEADDR, as ZenML's port_available sets it and as servers do: a port whose last
        // connections linger in TIME_WAIT (e.g. after health probes) is free for a new listener;
        // a port someone listens on still fails to bind.
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }

    struct FileInfo {
        var isDirectory: Bool
        var isSymlink: Bool
        var isRegular: Bool
        var owner: uid_t
        var mode: mode_t
    }

    /// `lstat`: information about the path itself, never a symlink's target. `nil` when it does not exist.
    static func lstatInfo(_ path: String) throws(POSIXCallError) -> FileInfo? {
        try fileInfo(path, followLink: false)
    }

    /// `stat` (`followLink`) or `lstat`; `nil` when the path does not exist.
    static func fileInfo(_ path: String, followLink: Bool) throws(POSIXCallError) -> FileInfo? {
        var info = stat()
        if (followLink ? stat(path, &info) : lstat(path, &info)) != 0 {
            if errno == ENOENT { return nil }
            throw POSIXCallError(call: followLink ? "stat" : "lstat", errno: errno)
        }
        let type = info.st_mode & S_IFMT
        return FileInfo(
            isDirectory: type == S_IFDIR, isSymlink: type == S_IFLNK, isRegular: type == S_IFREG,
            owner: info.st_uid, mode: info.st_mode & 0o7777)
    }

    static var currentUser: uid_t { geteuid() }

    static func makeDirectory(_ path: String, mode: mode_t) throws(POSIXCallError) {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw POSIXCallError(call: "mkdir", errno: errno) }
    }

    static func changeMode(_ path: String, _ mode: mode_t) throws(POSIXCallError) {
        if chmod(path, mode) != 0 { throw POSIXCallError(call: "chmod", errno: errno) }
    }

    /// Opens a file without following a final symlink.
    static func openNoFollow(_ path: String, flags: Int32, mode: mode_t = 0o600) throws(POSIXCallError) -> Int32 {
        let fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode)
        if fd < 0 { throw POSIXCallError(call: "open", errno: errno) }
        return fd
    }

    static func openDirectory(_ path: String, followLink: Bool = false) throws(POSIXCallError) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (followLink ? 0 : O_NOFOLLOW))
        if fd < 0 { throw POSIXCallError(call: "open", errno: errno) }
        return fd
    }

    /// This process's PID.
    static var currentProcess: Int32 { getpid() }

    /// When a process started, in clock ticks after boot (field 22 of `/proc/PID/stat`): with the
    /// PID it names one process for good, since a reused PID has another start time. `nil` when
    /// no such process exists (or it is a zombie that has already exited).
    static func processStartTime(_ pid: Int32) -> UInt64? {
        guard let stat = processStat(pid), stat.state != "Z", stat.state != "X" else { return nil }
        return stat.startTime
    }

    /// `/proc/PID/stat`, parsed; nil when no such process exists.
    static func processStat(_ pid: Int32) -> UnitProcesses.Stat? {
        guard pid > 0, let fd = try? openNoFollow("/proc/\(pid)/stat", flags: O_RDONLY) else { return nil }
        defer { closeFD(fd) }
        guard let data = try? readAll(fd, limit: 4096) else { return nil }
        return UnitProcesses.parseStat(String(decoding: data, as: UTF8.self))
    }

    static func writeAll(_ fd: Int32, _ data: Data) throws(POSIXCallError) {
        var failure: Int32? = nil
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if let failure { throw POSIXCallError(call: "write", errno: failure) }
    }

    static func readAll(_ fd: Int32, limit: Int = .max) throws(POSIXCallError) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw POSIXCallError(call: "read", errno: errno)
            }
            if count == 0 { return data }
            data.append(contentsOf: buffer[0..<count])
            if data.count > limit { throw POSIXCallError(call: "read", errno: EFBIG) }
        }
    }

    /// A small file's text (a symlink is not followed); nil when it cannot be read.
    static func readText(_ path: String, limit: Int) -> String? {
        guard let fd = try? openNoFollow(path, flags: O_RDONLY) else { return nil }
        defer { closeFD(fd) }
        return (try? readAll(fd, limit: limit)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Creates `path` (0600, never through a symlink) holding `text`; false when it cannot.
    @discardableResult
    static func writeNewFile(_ path: String, _ text: String) -> Bool {
        guard let fd = try? openNoFollow(path, flags: createExclusiveWrite, mode: 0o600) else { return false }
        defer { closeFD(fd) }
        return (try? writeAll(fd, Data(text.utf8))) != nil
    }

    static func sync(_ fd: Int32) throws(POSIXCallError) {
        if fsync(fd) != 0 { throw POSIXCallError(call: "fsync", errno: errno) }
    }

    static func closeFD(_ fd: Int32) { _ = close(fd) }

    static func renameFile(_ from: String, _ to: String) throws(POSIXCallError) {
        if rename(from, to) != 0 { throw POSIXCallError(call: "rename", errno: errno) }
    }

    static func unlinkFile(_ path: String) { _ = unlink(path) }

    /// Whether a process `pid` exists (signal 0; EPERM means it exists but is not ours).
    /// Whether `pid` names a process that still runs: a zombie (ended, not yet reaped by its
    /// parent) does not.
    static func processRuns(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        return processStat(pid).map { $0.state != "Z" && $0.state != "X" } ?? true
    }

    /// Takes an exclusive `flock`, retrying on EINTR. Blocks until the lock is free.
    static func lockExclusive(_ fd: Int32) throws(POSIXCallError) {
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            throw POSIXCallError(call: "flock", errno: errno)
        }
    }

    static func unlock(_ fd: Int32) { _ = flock(fd, LOCK_UN) }

    static var ENOENTCode: Int32 { ENOENT }
    static var EFBIGCode: Int32 { EFBIG }
    static var ELOOPCode: Int32 { ELOOP }
    static var ENOTDIRCode: Int32 { ENOTDIR }
    static var readOnly: Int32 { O_RDONLY }
    static var createExclusiveWrite: Int32 { O_WRONLY | O_CREAT | O_EXCL }
    static var createReadWrite: Int32 { O_RDWR | O_CREAT }
}
