// The file calls swift-system 1.8 lacks (flock, fsync, fcntl's F_DUPFD_CLOEXEC, mkdir, chmod,
// rename, unlink, mkdtemp), each throwing swift-system's `Errno`; reading and writing whole small
// files by descriptor; open and stat by a plain path string; and the loopback bind probe.
import Glibc
public import SystemPackage

extension FileDescriptor {
    /// Takes an exclusive `flock`, retrying on EINTR; blocks until the lock is free.
    public func lockExclusive() throws(Errno) {
        while flock(rawValue, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            throw Errno(rawValue: errno)
        }
    }

    /// Takes an exclusive `flock` if it is free now, retrying on EINTR: false, without waiting,
    /// while another open file holds it.
    public func tryLockExclusive() throws(Errno) -> Bool {
        while flock(rawValue, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK { return false }
            throw Errno(rawValue: errno)
        }
        return true
    }

    /// Takes an exclusive `flock`, waiting as long as it takes, without holding a thread of Swift's
    /// cooperative pool meanwhile: a free lock is taken at once; a held one is waited for on a
    /// thread of its own. Why: a task of this process may hold the lock across a suspension, and
    /// resuming it to release the lock needs a thread of that pool, which has as few threads as the
    /// machine has cores (seen: two waiters in flock(2) on a 2-core machine hung a test run).
    public func awaitExclusiveLock() async throws(Errno) {
        if try tryLockExclusive() { return }
        let fd = self
        let taken: Result<Void, Errno> = await withCheckedContinuation { continuation in
            let failure = Threads.startDetached {
                continuation.resume(returning: Result { () throws(Errno) in try fd.lockExclusive() })
            }
            if failure != 0 { continuation.resume(returning: .failure(Errno(rawValue: failure))) }
        }
        try taken.get()
    }

    /// Takes a shared `flock`, retrying on EINTR; blocks while another holds it exclusively.
    public func lockShared() throws(Errno) {
        while flock(rawValue, LOCK_SH) != 0 {
            if errno == EINTR { continue }
            throw Errno(rawValue: errno)
        }
    }

    /// Drops the `flock` (closing the descriptor drops it too).
    public func unlock() { _ = flock(rawValue, LOCK_UN) }

    /// `fsync`: the file's data and metadata (or a directory's entries) are on disk.
    public func sync() throws(Errno) {
        if fsync(rawValue) != 0 { throw Errno(rawValue: errno) }
    }

    /// Everything up to end of file; `Errno.fileTooLarge` past `limit` bytes. Reads through one
    /// uninitialised stack buffer: zero-filling a 64 KiB array per file was most of what reading
    /// 300 documents cost `create` (callgrind).
    public func readToEnd(limit: Int = .max) throws(Errno) -> [UInt8] {
        var data: [UInt8] = []
        let outcome: Errno? = withUnsafeTemporaryAllocation(byteCount: 65536, alignment: 16) { buffer in
            while true {
                let count: Int
                do { count = try read(into: buffer) } catch let error as Errno { return error } catch { return .ioError }
                if count == 0 { return nil }
                data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0 ..< count]))
                if data.count > limit { return .fileTooLarge }
            }
        }
        if let outcome { throw outcome }
        return data
    }

    /// Writes all of `bytes` (retrying short writes and EINTR).
    public func writeAll(bytes: some Collection<UInt8>) throws(Errno) {
        do {
            _ = try writeAll(bytes)
        } catch let error as Errno {
            throw error
        } catch {
            throw Errno.ioError
        }
    }

    /// Opens `path` without following a final symlink, close-on-exec (`permissions` apply when created).
    public static func openNoFollow(_ path: String, _ access: AccessMode, options: OpenOptions = [],
                                    permissions: FilePermissions = [.ownerReadWrite]) throws(Errno) -> FileDescriptor {
        try open(path, access, options: options.union([.noFollow, .closeOnExec]), permissions: options.contains(.create) ? permissions : nil)
    }

    /// `open` of a path given as a Swift string, without building a `FilePath`: parsing one per open
    /// and stat was a tenth of `create`'s instructions in a store of 300 services (callgrind).
    public static func open(_ path: String, _ access: AccessMode, options: OpenOptions, permissions: FilePermissions? = nil) throws(Errno) -> FileDescriptor {
        let result: Result<FileDescriptor, Errno> = path.withCString { pointer in
            do {
                return .success(try open(pointer, access, options: options, permissions: permissions))
            } catch let error as Errno {
                return .failure(error)
            } catch {
                return .failure(.ioError)
            }
        }
        return try result.get()
    }

    /// A close-on-exec copy numbered `minimum` or above (`F_DUPFD_CLOEXEC`): a descriptor kept
    /// clear of 0–2 and of the numbers a spawned child is given, so a later dup2 onto them is a real copy.
    public func duplicate(atLeast minimum: Int32) throws(Errno) -> FileDescriptor {
        let copy = fcntl(rawValue, F_DUPFD_CLOEXEC, minimum)
        if copy < 0 { throw Errno(rawValue: errno) }
        return FileDescriptor(rawValue: copy)
    }

    /// Closes, ignoring the answer (nothing can be done about a failed close of a read).
    public func closeQuietly() { try? close() }
}

extension Stat {
    /// `stat` (`followTargetSymlink`) or `lstat` of a path given as a Swift string, without building
    /// a `FilePath` (see `FileDescriptor.open(_:_:options:permissions:)`).
    public init(atPath path: String, followTargetSymlink: Bool) throws(Errno) {
        let result: Result<Stat, Errno> = path.withCString { pointer in
            do throws(Errno) { return .success(try Stat(pointer, followTargetSymlink: followTargetSymlink)) } catch { return .failure(error) }
        }
        self = try result.get()
    }

    /// `fstatat(directory, name, AT_SYMLINK_NOFOLLOW)`: `lstat` of a path inside an open directory,
    /// which spares the kernel walking the directory's own path again for every entry.
    public init(name: String, in directory: FileDescriptor) throws(Errno) {
        let result: Result<Stat, Errno> = name.withCString { pointer in
            do throws(Errno) { return .success(try Stat(pointer, relativeTo: directory, flags: .symlinkNoFollow)) } catch { return .failure(error) }
        }
        self = try result.get()
    }
}

/// One entry of a directory listing, with the type the directory itself records.
public struct DirectoryEntry: Sendable, Hashable {
    /// What the directory says the entry is (`d_type`); `unknown` where the file system does not
    /// say (then `lstat` must).
    public enum Kind: Sendable, Hashable { case directory, symbolicLink, regular, other, unknown }
    public var name: String
    public var kind: Kind
}

extension FileDescriptor {
    /// The entries of the open directory (`readdir` on a duplicate of it, so this descriptor
    /// stays open and usable), without `.` and `..`. Not obvious: the types come free with the
    /// listing, so a scan need not `lstat` each entry to tell a directory from a symbolic link.
    public func directoryEntries() throws(Errno) -> [DirectoryEntry] {
        let copy = Glibc.dup(rawValue)
        guard copy >= 0 else { throw Errno(rawValue: errno) }
        guard let stream = fdopendir(copy) else { let code = errno; _ = Glibc.close(copy); throw Errno(rawValue: code) }
        defer { closedir(stream) }
        rewinddir(stream)
        var entries: [DirectoryEntry] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw Errno(rawValue: errno) }
                return entries
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let kind: DirectoryEntry.Kind
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_LNK): kind = .symbolicLink
            case Int32(DT_REG): kind = .regular
            case Int32(DT_UNKNOWN): kind = .unknown
            default: kind = .other
            }
            entries.append(DirectoryEntry(name: name, kind: kind))
        }
    }
}

/// Changes to the file system by path.
public enum FileSystemCalls {
    /// `mkdir`; an existing entry is not an error.
    public static func makeDirectory(_ path: String, permissions: FilePermissions) throws(Errno) {
        if mkdir(path, permissions.rawValue) != 0 && errno != EEXIST { throw Errno(rawValue: errno) }
    }

    /// `chmod` (follows a symlink: callers check the entry with `lstat` first).
    public static func changePermissions(_ path: String, _ permissions: FilePermissions) throws(Errno) {
        if chmod(path, permissions.rawValue) != 0 { throw Errno(rawValue: errno) }
    }

    /// `rename`: atomic on one file system.
    public static func rename(_ from: String, to: String) throws(Errno) {
        if Glibc.rename(from, to) != 0 { throw Errno(rawValue: errno) }
    }

    /// A new 0700 directory `<prefix>XXXXXX` (`mkdtemp`), its path.
    public static func makeTemporaryDirectory(prefix: String) throws(Errno) -> String {
        var template = Array("\(prefix)XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { throw Errno(rawValue: errno) }
        return String(cString: made)
    }

    /// `unlink`, ignoring whether it was there.
    public static func removeFile(_ path: String) { _ = unlink(path) }
}

/// Whether a TCP listener could bind `127.0.0.1:port` now (with SO_REUSEADDR, as ZenML's
/// `port_available` and servers set it: a port whose connections linger in TIME_WAIT is free; a
/// port someone listens on is not).
public enum PortProbe {
    public static func canBindLoopback(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}

