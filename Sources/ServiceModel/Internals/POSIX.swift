// ServiceModel's file and process facts, over swift-system (FileDescriptor, FilePath, Errno, Stat)
// and OSCalls (flock, fsync, mkdir, chmod, rename, unlink, the loopback bind probe): Foundation has
// no API for O_NOFOLLOW, flock, fsync of a directory or a bind probe. Failures become
// `POSIXCallError`s, which the store turns into `ServiceModelError`s at the call sites.
import FoundationEssentials
import OSCalls
import SystemPackage

/// An errno value with its text, kept as the `cause` of model errors.
struct POSIXCallError: Error, Sendable, CustomStringConvertible {
    let call: String
    let errno: Int32
    init(call: String, errno: Int32) { (self.call, self.errno) = (call, errno) }
    init(call: String, _ error: Errno) { self.init(call: call, errno: error.rawValue) }
    var description: String { "\(call): \(reason)" }
    var reason: String { Errno(rawValue: errno).text }
}

/// The text of an error from FileManager or `Data(contentsOf:)`, for messages.
///
/// FoundationEssentials has no `localizedDescription`; this gives the C library's text for the
/// errno underneath (so messages read like the rest of svcunit's), else the error's description.
public enum SystemErrorText {
    public static func of(_ error: any Error) -> String {
        if let posix = error as? POSIXError { return Errno(posix.code).text }
        if let errno = error as? Errno { return errno.text }
        if let cocoa = error as? CocoaError {
            if let posix = cocoa.underlying as? POSIXError { return Errno(posix.code).text }
            switch cocoa.code {
            case .fileNoSuchFile, .fileReadNoSuchFile: return Errno.noSuchFileOrDirectory.text
            case .fileWriteNoPermission, .fileReadNoPermission: return Errno.permissionDenied.text
            case .fileWriteOutOfSpace: return Errno.noSpace.text
            default: break
            }
        }
        return "\(error)"
    }
}

enum POSIX {
    static func describe(_ error: any Error) -> String { SystemErrorText.of(error) }

    static func canBindLoopback(port: UInt16) -> Bool { PortProbe.canBindLoopback(port: port) }

    struct FileInfo {
        var isDirectory: Bool
        var isSymlink: Bool
        var isRegular: Bool
        var owner: UInt32
        var mode: UInt32
        /// What tells one version of a file from another without reading it.
        var identity: ServiceStore.FileIdentity
        /// Last modified, in whole seconds since the epoch.
        var modified: Int64 { identity.modified / 1_000_000_000 }
    }

    /// `lstat`: information about the path itself, never a symlink's target. `nil` when it does not exist.
    static func lstatInfo(_ path: String) throws(POSIXCallError) -> FileInfo? {
        try fileInfo(path, followLink: false)
    }

    /// The entries of an open directory, typed where the file system says (`readdir`).
    static func directoryEntries(_ directory: FileDescriptor) throws(POSIXCallError) -> [DirectoryEntry] {
        do { return try directory.directoryEntries() } catch { throw POSIXCallError(call: "readdir", error) }
    }

    /// `lstat` of `name` inside the open `directory`; `nil` when it does not exist.
    static func lstatInfo(_ name: String, in directory: FileDescriptor) throws(POSIXCallError) -> FileInfo? {
        do { return FileInfo(try Stat(name: name, in: directory)) } catch {
            if error == .noSuchFileOrDirectory { return nil }
            throw POSIXCallError(call: "lstat", error)
        }
    }

    /// `stat` (`followLink`) or `lstat`; `nil` when the path does not exist.
    static func fileInfo(_ path: String, followLink: Bool) throws(POSIXCallError) -> FileInfo? {
        let info: Stat
        do {
            info = try Stat(atPath: path, followTargetSymlink: followLink)
        } catch {
            if error == .noSuchFileOrDirectory { return nil }
            throw POSIXCallError(call: followLink ? "stat" : "lstat", error)
        }
        return FileInfo(info)
    }
}

extension POSIX.FileInfo {
    init(_ info: Stat) {
        self.init(
            isDirectory: info.type == .directory, isSymlink: info.type == .symbolicLink, isRegular: info.type == .regular,
            owner: info.userID.rawValue, mode: UInt32(info.permissions.rawValue) & 0o7777,
            identity: ServiceStore.FileIdentity(device: UInt64(info.deviceID.rawValue), inode: UInt64(info.inode.rawValue), size: info.size,
                                                modified: info.modificationNanoseconds, changed: info.statusChangeNanoseconds))
    }
}

extension POSIX {
    static var currentUser: UInt32 { CurrentProcess.effectiveUserID }

    static func makeDirectory(_ path: String, mode: UInt32) throws(POSIXCallError) {
        do { try FileSystemCalls.makeDirectory(path, permissions: FilePermissions(rawValue: mode)) } catch {
            throw POSIXCallError(call: "mkdir", error)
        }
    }

    static func changeMode(_ path: String, _ mode: UInt32) throws(POSIXCallError) {
        do { try FileSystemCalls.changePermissions(path, FilePermissions(rawValue: mode)) } catch {
            throw POSIXCallError(call: "chmod", error)
        }
    }

    /// How a file is opened: the access and the options (no-follow and close-on-exec are added).
    struct OpenMode {
        var access: FileDescriptor.AccessMode
        var options: FileDescriptor.OpenOptions
    }

    static let readOnly = OpenMode(access: .readOnly, options: [])
    static let createExclusiveWrite = OpenMode(access: .writeOnly, options: [.create, .exclusiveCreate])
    static let createReadWrite = OpenMode(access: .readWrite, options: [.create])

    /// Opens a file without following a final symlink.
    static func openNoFollow(_ path: String, flags: OpenMode, mode: UInt32 = 0o600) throws(POSIXCallError) -> FileDescriptor {
        do {
            return try FileDescriptor.openNoFollow(path, flags.access, options: flags.options, permissions: FilePermissions(rawValue: mode))
        } catch {
            throw POSIXCallError(call: "open", error)
        }
    }

    static func openDirectory(_ path: String, followLink: Bool = false) throws(POSIXCallError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(path, .readOnly, options: followLink ? [.directory, .closeOnExec] : [.directory, .closeOnExec, .noFollow])
        } catch {
            throw POSIXCallError(call: "open", error)
        }
    }

    /// This process's PID.
    static var currentProcess: Int32 { CurrentProcess.id }

    /// When a process started, in clock ticks after boot (field 22 of `/proc/PID/stat`): with the
    /// PID it names one process for good, since a reused PID has another start time. `nil` when
    /// no such process exists (or it is a zombie that has already exited).
    static func processStartTime(_ pid: Int32) -> UInt64? {
        guard let stat = processStat(pid), stat.state != "Z", stat.state != "X" else { return nil }
        return stat.startTime
    }

    /// `/proc/PID/stat`, parsed; nil when no such process exists.
    static func processStat(_ pid: Int32) -> UnitProcesses.Stat? {
        guard pid > 0, let text = readText("/proc/\(pid)/stat", limit: 4096) else { return nil }
        return UnitProcesses.parseStat(text)
    }

    static func writeAll(_ fd: FileDescriptor, _ data: Data) throws(POSIXCallError) {
        do { try fd.writeAll(bytes: data) } catch { throw POSIXCallError(call: "write", error) }
    }

    static func readAll(_ fd: FileDescriptor, limit: Int = .max) throws(POSIXCallError) -> Data {
        do { return Data(try fd.readToEnd(limit: limit)) } catch { throw POSIXCallError(call: "read", error) }
    }

    /// A small file's text (a symlink is not followed); nil when it cannot be read.
    static func readText(_ path: String, limit: Int) -> String? {
        guard let fd = try? openNoFollow(path, flags: readOnly) else { return nil }
        defer { closeFD(fd) }
        return (try? readAll(fd, limit: limit)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Creates `path` (0600, never through a symlink) holding `text`; false when it cannot.
    @discardableResult
    static func writeNewFile(_ path: String, _ text: String) -> Bool { writeNewFile(path, Array(text.utf8)) }

    /// A new file (`O_EXCL`, 0600) holding `bytes`; false when it could not be made or written.
    static func writeNewFile(_ path: String, _ bytes: [UInt8]) -> Bool {
        guard let fd = try? openNoFollow(path, flags: createExclusiveWrite, mode: 0o600) else { return false }
        defer { closeFD(fd) }
        return (try? fd.writeAll(bytes)) != nil
    }

    static func sync(_ fd: FileDescriptor) throws(POSIXCallError) {
        do { try fd.sync() } catch { throw POSIXCallError(call: "fsync", error) }
    }

    static func closeFD(_ fd: FileDescriptor) { fd.closeQuietly() }

    static func renameFile(_ from: String, _ to: String) throws(POSIXCallError) {
        do { try FileSystemCalls.rename(from, to: to) } catch { throw POSIXCallError(call: "rename", error) }
    }

    static func unlinkFile(_ path: String) { FileSystemCalls.removeFile(path) }

    /// Whether `pid` names a process that still runs (one of another user counts): a zombie
    /// (ended, not yet reaped by its parent) does not.
    static func processRuns(_ pid: Int32) -> Bool {
        guard ProcessID(pid).exists else { return false }
        return processStat(pid).map { $0.state != "Z" && $0.state != "X" } ?? true
    }

    /// Takes an exclusive `flock`, retrying on EINTR. Blocks until the lock is free.
    static func lockExclusive(_ fd: FileDescriptor) throws(POSIXCallError) {
        do { try fd.lockExclusive() } catch { throw POSIXCallError(call: "flock", error) }
    }

    /// Takes an exclusive `flock` without blocking a thread of the cooperative pool while it waits.
    static func awaitExclusiveLock(_ fd: FileDescriptor) async throws(POSIXCallError) {
        do { try await fd.awaitExclusiveLock() } catch { throw POSIXCallError(call: "flock", error) }
    }

    /// Takes an exclusive `flock` if it is free now (EINTR retried); false while another holds it.
    static func tryLockExclusive(_ fd: FileDescriptor) throws(POSIXCallError) -> Bool {
        do { return try fd.tryLockExclusive() } catch { throw POSIXCallError(call: "flock", error) }
    }

    static func unlock(_ fd: FileDescriptor) { fd.unlock() }

    static var ENOENTCode: Int32 { Errno.noSuchFileOrDirectory.rawValue }
    static var EFBIGCode: Int32 { Errno.fileTooLarge.rawValue }
    static var ELOOPCode: Int32 { Errno.tooManySymbolicLinkLevels.rawValue }
    static var ENOTDIRCode: Int32 { Errno.notDirectory.rawValue }
}
