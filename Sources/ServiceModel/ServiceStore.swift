public import FoundationEssentials
import OSCalls
import SystemPackage

/// Keeps service documents on disk: `<root>/<uuid>/service.json`, one directory per service.
///
/// Directories are created 0700 and files 0600; every write goes to a temporary file in the same
/// directory, is fsynced, renamed over `service.json`, and the directory is fsynced, so a crash
/// leaves either the old or the new file, never half of one. Not obvious: the store refuses a root
/// owned by another user or writable by group/others, and refuses symlinks planted at
/// `<root>/<uuid>` or `service.json`, because service files name commands that will be executed.
public struct ServiceStore: Sendable {
    /// The directory holding one sub-directory per service.
    public let root: String
    public static let fileName = "service.json"
    public static let lockName = ".lock"

    /// The service's lock file beside the document at `configFile` (`<root>/<uuid>/service.json`),
    /// for a process that has only the document's path (the entrypoint).
    public static func lockPath(forConfigFile configFile: String) -> String {
        PathText.directory(of: configFile) + "/" + lockName
    }

    /// Opens (and creates, mode 0700, if missing) the store at `root`.
    /// - Throws: `.unsafePath` naming the directory and the fix (chmod/chown) when it is owned by
    ///   another user or writable by group or others; `.ioFailure` when it cannot be created.
    public init(root: String, create: Bool = true) throws(ServiceModelError) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        let existing: POSIX.FileInfo?
        do { existing = try POSIX.fileInfo(self.root, followLink: true) } catch {
            throw ServiceModelError(.ioFailure, "cannot inspect \(self.root): \(error.reason)", filePath: self.root)
        }
        if let existing {
            guard existing.isDirectory else {
                throw ServiceModelError(.unsafePath, "service store \(self.root) is not a directory", filePath: self.root)
            }
        } else {
            guard create else {
                throw ServiceModelError(.fileNotFound, "service store directory \(self.root) does not exist", filePath: self.root)
            }
            do {
                try FileManager.default.createDirectory(
                    atPath: self.root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw ServiceModelError(
                    .ioFailure, "cannot create service store directory \(self.root): \(POSIX.describe(error))",
                    filePath: self.root)
            }
        }
        try Self.checkOwnership(self.root, followLink: true)
    }

    /// Refuses a directory that another user owns or that group/others can write.
    static func checkOwnership(_ path: String, followLink: Bool) throws(ServiceModelError) {
        let info: POSIX.FileInfo?
        do { info = try POSIX.fileInfo(path, followLink: followLink) } catch {
            throw ServiceModelError(.ioFailure, "cannot inspect \(path): \(error.reason)", filePath: path)
        }
        guard let info else {
            throw ServiceModelError(.ioFailure, "cannot inspect \(path): it does not exist", filePath: path)
        }
        try checkOwnership(info, of: path)
    }

    /// `checkOwnership` of what a `lstat` or `stat` of `path` just read.
    static func checkOwnership(_ info: POSIX.FileInfo, of path: String) throws(ServiceModelError) {
        let owner = info.owner
        let mode = UInt16(info.mode)
        let me = POSIX.currentUser
        if owner != me {
            throw ServiceModelError(
                .unsafePath, "refusing to use \(path): it is owned by uid \(owner), not by you (uid \(me))",
                filePath: path, hint: "use a directory you own, or chown it to uid \(me)")
        }
        if mode & 0o022 != 0 {
            throw ServiceModelError(
                .unsafePath,
                "refusing to use \(path): it is writable by group or others (mode \(String(mode & 0o777, radix: 8)))",
                filePath: path, hint: "run chmod go-w \(path) (svcunit creates it 0700)")
        }
    }

    public func directory(for uuid: ServiceUUID) -> String { "\(root)/\(uuid.rawValue)" }
    public func file(for uuid: ServiceUUID) -> String { "\(directory(for: uuid))/\(Self.fileName)" }

    /// Makes sure `<root>/<uuid>` is a real directory of ours (creating it 0700).
    @discardableResult
    func serviceDirectory(_ uuid: ServiceUUID, create: Bool) throws(ServiceModelError) -> String {
        let path = directory(for: uuid)
        let info: POSIX.FileInfo?
        do { info = try POSIX.lstatInfo(path) } catch { throw ioError("inspect", path, error) }
        if let info {
            if info.isSymlink {
                throw ServiceModelError(
                    .unsafePath, "refusing to use \(path): it is a symbolic link", filePath: path,
                    hint: "remove the link; svcunit only uses directories it created")
            }
            guard info.isDirectory else {
                throw ServiceModelError(.unsafePath, "refusing to use \(path): it is not a directory", filePath: path)
            }
            try Self.checkOwnership(info, of: path)  // the lstat above: no second look at the same path
            return path
        }
        guard create else {
            throw ServiceModelError(.fileNotFound, "no service \(uuid) in \(root)", filePath: path)
        }
        do {
            try POSIX.makeDirectory(path, mode: 0o700)
            try POSIX.changeMode(path, 0o700)
        } catch { throw ioError("create", path, error) }
        return path
    }

    private func ioError(_ action: String, _ path: String, _ error: POSIXCallError) -> ServiceModelError {
        ServiceModelError(.ioFailure, "cannot \(action) \(path): \(error.reason)", filePath: path, cause: error)
    }

    /// Refuses a `service.json` that is a symlink or not a regular file.
    private func checkFile(_ path: String) throws(ServiceModelError) {
        let info: POSIX.FileInfo?
        do { info = try POSIX.lstatInfo(path) } catch { throw ioError("inspect", path, error) }
        guard let info else { return }
        if info.isSymlink {
            throw ServiceModelError(
                .unsafePath, "refusing to use \(path): it is a symbolic link", filePath: path, hint: "remove the link")
        }
        if !info.isRegular {
            throw ServiceModelError(.unsafePath, "refusing to use \(path): it is not a regular file", filePath: path)
        }
    }

    // MARK: Writing

    /// Writes `document` atomically to `<root>/<uuid>/service.json` (mode 0600).
    /// - Throws: `.documentTooLarge` (nothing written) when svcunit could not read the file back.
    public func save(_ document: ServiceDocument, syncingDirectory: Bool = true) throws(ServiceModelError) {
        try write(document.encodedForStore(), for: document.uuid, syncingDirectory: syncingDirectory)
    }

    /// Writes the live service's current document.
    public func save(_ service: Service, syncingDirectory: Bool = true) throws(ServiceModelError) {
        try save(service.document, syncingDirectory: syncingDirectory)
    }

    /// `<root>/<name>` holding exactly `text` (0600, written atomically when missing or different),
    /// for files svcunit's units read, such as `RunEndClaim.stopPostScript`. Returns its path.
    public func ensureSupportFile(_ name: String, _ text: String) throws(ServiceModelError) -> String {
        let path = "\(root)/\(name)"
        if POSIX.readText(path, limit: 1 << 16) == text { return path }
        let temporary = "\(root)/.\(name).\(UUID().uuidString.lowercased()).tmp"
        do throws(POSIXCallError) {
            let fd = try POSIX.openNoFollow(temporary, flags: POSIX.createExclusiveWrite, mode: 0o600)
            defer { POSIX.closeFD(fd) }
            try POSIX.writeAll(fd, Data(utf8: text))
            try POSIX.sync(fd)
            try POSIX.renameFile(temporary, path)
        } catch {
            POSIX.unlinkFile(temporary)
            throw ioError("write", path, error)
        }
        return path
    }

    /// Writes raw bytes atomically as the service's file: temporary file, fsync, rename, fsync directory.
    /// Call it inside `withLock(uuid)`: the lock is what lets the next writer know a leftover temporary
    /// file is abandoned.
    /// - Parameter syncingDirectory: false for a write that a crash may lose (a status record): the
    ///   file's own fsync before the rename still means a crash leaves either document whole, never
    ///   a torn one; only the rename's durability is not waited for.
    public func write(_ data: Data, for uuid: ServiceUUID, syncingDirectory: Bool = true) throws(ServiceModelError) {
        // Never write what `read` refuses: the service would turn into "no service".
        if data.count > ServiceDocument.maximumSize {
            throw ServiceDocument.tooLarge(size: data.count, what: "service \(uuid)")
        }
        let directory = try serviceDirectory(uuid, create: true)
        let target = "\(directory)/\(Self.fileName)"
        try checkFile(target)
        removeAbandonedTemporaries(in: directory)
        let temporary = "\(directory)/.\(Self.fileName).\(UUID().uuidString.lowercased()).tmp"
        do throws(POSIXCallError) {
            let fd = try POSIX.openNoFollow(temporary, flags: POSIX.createExclusiveWrite, mode: 0o600)
            do throws(POSIXCallError) {
                try POSIX.writeAll(fd, data)
                try POSIX.sync(fd)
                POSIX.closeFD(fd)
            } catch {
                POSIX.closeFD(fd)
                throw error
            }
            try POSIX.renameFile(temporary, target)
        } catch {
            POSIX.unlinkFile(temporary)
            throw ioError("write", target, error)
        }
        if syncingDirectory {
            do {
                let directoryFD = try POSIX.openDirectory(directory)
                defer { POSIX.closeFD(directoryFD) }
                try POSIX.sync(directoryFD)
            } catch { throw ioError("sync", directory, error) }
        }
        // What the units of this store's services run after each run (RunEndClaim): kept with
        // every document write (best effort here: the document is written; a start checks it).
        _ = try? ensureSupportFile(RunEndClaim.scriptName, RunEndClaim.stopPostScript)
    }

    /// A writer killed between creating its temporary file and renaming it leaves the file behind.
    /// Taking the lock removes all of them (see `lockTaken`); a write made without the lock removes
    /// only those that are clearly abandoned (a minute old), since another writer may own a fresh one.
    private func removeAbandonedTemporaries(in directory: String, minimumAge: TimeInterval = 60) {
        let prefix = ".\(Self.fileName)."
        // `readdir`, not FileManager's listing: this runs under every lock, and FileManager's took
        // run-time conformance lookups on top of the listing (callgrind).
        guard let fd = try? POSIX.openDirectory(directory) else { return }
        defer { POSIX.closeFD(fd) }
        guard let entries = try? POSIX.directoryEntries(fd) else { return }
        for name in entries.lazy.map(\.name) where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
            let path = "\(directory)/\(name)"
            if minimumAge <= 0 {
                POSIX.unlinkFile(path)
            } else if let info = try? POSIX.lstatInfo(path), Double(info.modified) < Date().timeIntervalSince1970 - minimumAge {
                POSIX.unlinkFile(path)
            }
        }
    }

    // MARK: Reading

    /// The raw bytes of a stored service's file.
    /// - Throws: `.fileNotFound` when there is no such service; `.unsafePath` for symlinks.
    public func read(_ uuid: ServiceUUID) throws(ServiceModelError) -> Data {
        let directory = try serviceDirectory(uuid, create: false)
        let path = "\(directory)/\(Self.fileName)"
        do {
            let fd = try POSIX.openNoFollow(path, flags: POSIX.readOnly)
            defer { POSIX.closeFD(fd) }
            return try POSIX.readAll(fd, limit: ServiceDocument.maximumSize)
        } catch {
            if error.errno == POSIX.EFBIGCode {
                throw ServiceModelError(.documentTooLarge, "\(path) is larger than \(ServiceDocument.maximumSize >> 20) MiB; not reading it",
                                        filePath: path, hint: "a service.json is a few KiB: check what wrote this file")
            }
            if error.errno == POSIX.ENOENTCode {
                throw ServiceModelError(.fileNotFound, "no service \(uuid) in \(root) (\(path) is missing)", filePath: path)
            }
            if error.errno == POSIX.ELOOPCode {
                throw ServiceModelError(.unsafePath, "refusing to use \(path): it is a symbolic link", filePath: path, hint: "remove the link")
            }
            throw ioError("read", path, error)
        }
    }

    /// Reads and decodes a stored service's document with `registry`'s classes.
    /// - Throws: the read errors, the decoding errors (with the file attached), and `.invalidField`
    ///   when the file's `uuid` does not match its directory.
    public func document(_ uuid: ServiceUUID, with registry: ServiceRegistry) throws(ServiceModelError) -> ServiceDocument {
        try document(uuid, decoding: try read(uuid), with: registry)
    }

    /// `document(_:with:)` of bytes already read from the service's file (`read(_:)`), for a caller
    /// that tells a file it could not read from one that does not decode.
    public func document(_ uuid: ServiceUUID, decoding data: Data, with registry: ServiceRegistry) throws(ServiceModelError) -> ServiceDocument {
        let path = file(for: uuid)
        let document: ServiceDocument
        do { document = try registry.decode(data: data) } catch { throw error.inFile(path) }
        guard document.uuid == uuid else {
            throw ServiceModelError(
                .invalidField, "\(path) holds service \(document.uuid), not \(uuid)", fieldPath: "uuid", filePath: path)
        }
        return document
    }

    /// A stored service as a new `Service` object (see `document(_:with:)`).
    public func load(_ uuid: ServiceUUID, with registry: ServiceRegistry) throws(ServiceModelError) -> Service {
        Service(try document(uuid, with: registry))
    }

    /// The UUIDs of all stored services (directories named by a UUID that hold a `service.json`), sorted.
    public func list() throws(ServiceModelError) -> [ServiceUUID] { try scan().services }

    /// A UUID-named entry of the store that is not a stored service, and why.
    public struct SkippedEntry: Sendable, Hashable {
        public var uuid: ServiceUUID
        public var path: String
        /// What is wrong, e.g. "it is a symbolic link".
        public var reason: String
        /// Whether `delete --force` may remove it (a real directory of ours without a service.json);
        /// a symbolic link is never followed or removed by svcunit.
        public var removable: Bool
    }

    /// Every entry named by a UUID, sorted: the stored services (real directories holding a regular
    /// `service.json`) and the entries left out, with why. Other names are not service entries (a
    /// ZenML root may hold more) and are not reported.
    public func scan() throws(ServiceModelError) -> (services: [ServiceUUID], skipped: [SkippedEntry]) {
        let (files, skipped) = try scanFiles()
        return (files.map(\.uuid), skipped)
    }

    /// Which version of a file a path held when it was looked at (`lstat`): device, inode, size and
    /// the modification and change times in nanoseconds.
    ///
    /// Not obvious: equal identities do not prove equal content when the file changed twice within
    /// one tick of the kernel's file clock (a few milliseconds) without changing size; a cache keyed
    /// by it must leave out files changed shortly before they were looked at (git's "racy" rule,
    /// `ServiceSummaryCache`).
    public struct FileIdentity: Sendable, Hashable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int64
        /// `st_mtim` in nanoseconds since the epoch.
        public var modified: Int64
        /// `st_ctim` in nanoseconds since the epoch.
        public var changed: Int64

        public init(device: UInt64, inode: UInt64, size: Int64, modified: Int64, changed: Int64) {
            self.device = device
            self.inode = inode
            self.size = size
            self.modified = modified
            self.changed = changed
        }
    }

    /// A stored service's file as `scanFiles()` saw it.
    public struct StoredFile: Sendable, Hashable {
        public var uuid: ServiceUUID
        public var identity: FileIdentity

        public init(uuid: ServiceUUID, identity: FileIdentity) {
            self.uuid = uuid
            self.identity = identity
        }
    }

    /// `/service.json`, appended to each listed name.
    private static let slashFileName = "/" + fileName

    /// `scan()`, with each `service.json`'s identity from the `lstat` the scan makes anyway.
    public func scanFiles() throws(ServiceModelError) -> (services: [StoredFile], skipped: [SkippedEntry]) {
        // Entries are looked at inside the open root, not by their whole path (a thousand lookups
        // of the root's own path otherwise), and typed by the listing itself where the file system
        // records types (no lstat per directory); the paths stay for messages.
        let directory: FileDescriptor
        let entries: [DirectoryEntry]
        do {
            directory = try POSIX.openDirectory(root, followLink: true)
        } catch {
            throw ServiceModelError(.ioFailure, "cannot list \(root): \(error.reason)", filePath: root)
        }
        defer { POSIX.closeFD(directory) }
        do { entries = try POSIX.directoryEntries(directory) } catch {
            throw ServiceModelError(.ioFailure, "cannot list \(root): \(error.reason)", filePath: root)
        }
        var services: [StoredFile] = []
        var skipped: [SkippedEntry] = []
        for listed in entries {
            let name = listed.name
            guard let uuid = ServiceUUID(rawValue: name), uuid.rawValue == name else { continue }
            // The path only for an entry that is skipped: building it for each of a thousand was a
            // twentieth of `list`'s instructions, with the file's own (callgrind).
            func skip(_ reason: String, removable: Bool = false) {
                skipped.append(SkippedEntry(uuid: uuid, path: "\(root)/\(name)", reason: reason, removable: removable))
            }
            switch listed.kind {
            case .symbolicLink: skip("it is a symbolic link"); continue
            case .regular, .other: skip("it is not a directory"); continue
            case .directory: break
            case .unknown:
                let entry: POSIX.FileInfo?
                do { entry = try POSIX.lstatInfo(name, in: directory) } catch { skip("it cannot be inspected: \(error.reason)"); continue }
                guard let entry else { continue }  // removed meanwhile
                if entry.isSymlink { skip("it is a symbolic link"); continue }
                guard entry.isDirectory else { skip("it is not a directory"); continue }
            }
            let info: POSIX.FileInfo?
            do { info = try POSIX.lstatInfo(name + Self.slashFileName, in: directory) } catch { skip("its \(Self.fileName) cannot be inspected: \(error.reason)"); continue }
            guard let info else { skip("it has no \(Self.fileName)", removable: true); continue }
            if info.isSymlink { skip("its \(Self.fileName) is a symbolic link"); continue }
            guard info.isRegular else { skip("its \(Self.fileName) is not a regular file"); continue }
            services.append(StoredFile(uuid: uuid, identity: info.identity))
        }
        let sorted = services.map { ($0.uuid.orderKey, $0) }.sorted { $0.0 < $1.0 }.map(\.1)
        return (sorted, skipped.sorted { $0.uuid < $1.uuid })
    }

    /// Whether anything at all is at `<root>/<uuid>` (a directory, a planted symlink, a stray file).
    /// A caller that finds an entry should go on and load it: loading says precisely what is wrong
    /// with an entry that is not a usable service, where `list()` just leaves it out.
    public func hasEntry(for uuid: ServiceUUID) -> Bool {
        (try? POSIX.lstatInfo(directory(for: uuid))) != nil
    }

    /// Removes a service's directory and everything in it.
    /// - Throws: `.fileNotFound` when there is no such service; `.unsafePath` when it is a symlink.
    public func delete(_ uuid: ServiceUUID) throws(ServiceModelError) {
        let directory = try serviceDirectory(uuid, create: false)
        do { try FileManager.default.removeItem(atPath: directory) } catch {
            throw ServiceModelError(.ioFailure, "cannot remove \(directory): \(POSIX.describe(error))", filePath: directory)
        }
    }

    // MARK: Locking

    /// Runs `body` holding an exclusive `flock` on `<root>/<uuid>/.lock`, for read-modify-write
    /// sequences. Blocks the calling thread while another holds the lock: for synchronous code;
    /// async code takes `withLock(awaiting:)`, which never blocks a thread of the cooperative pool.
    /// Not obvious: the lock is advisory; it only excludes other svcunit processes that also take it.
    public func withLock<Result>(_ uuid: ServiceUUID, _ body: () throws -> Result) throws -> Result {
        let lock = try openLockFile(uuid)
        do throws(POSIXCallError) { try POSIX.lockExclusive(lock.fd) } catch { throw lockFailure(lock, error) }
        lockTaken(lock)
        defer {
            POSIX.unlock(lock.fd)
            POSIX.closeFD(lock.fd)
        }
        return try body()
    }

    /// `withLock` for async code; the lock is held across suspension points of `body`. Not
    /// obvious: while the lock is held elsewhere the wait takes no thread of Swift's cooperative
    /// pool. A task of this process may hold it across an await (a start holds it around
    /// `StartTransientUnit`), and resuming that task needs one of the pool's threads, as many as
    /// the machine has cores: two waiters blocked in flock(2) hung a test run on two cores.
    public func withLock<Result>(awaiting uuid: ServiceUUID, _ body: () async throws -> Result) async throws -> Result {
        let lock = try openLockFile(uuid)
        do throws(POSIXCallError) { try await POSIX.awaitExclusiveLock(lock.fd) } catch { throw lockFailure(lock, error) }
        lockTaken(lock)
        defer {
            POSIX.unlock(lock.fd)
            POSIX.closeFD(lock.fd)
        }
        return try await body()
    }

    /// Runs `body` holding an exclusive `flock` on the store's directory itself, for decisions about
    /// the whole store that must hold between concurrent svcunit processes (a name no other service
    /// has). Blocks the calling thread while another process holds it. Not obvious: the lock is taken
    /// on the directory's own descriptor, so it creates no file (a refused `create` leaves the store
    /// byte-for-byte unchanged), and it is independent of the per-service locks taken inside it.
    public func withStoreLock<Result>(_ body: () throws -> Result) throws -> Result {
        let fd: FileDescriptor
        do throws(POSIXCallError) {
            fd = try POSIX.openDirectory(root, followLink: true)
            do throws(POSIXCallError) { try POSIX.lockExclusive(fd) } catch {
                POSIX.closeFD(fd)
                throw error
            }
        } catch {
            throw ServiceModelError(.lockFailed, "cannot lock the service store \(root): \(error.reason)", filePath: root, cause: error)
        }
        defer {
            POSIX.unlock(fd)
            POSIX.closeFD(fd)
        }
        return try body()
    }

    /// A service's lock file, open and not yet locked.
    private struct LockFile {
        let fd: FileDescriptor
        let directory: String
        let path: String
    }

    /// Opens a service's lock file, creating it (and the service's directory) if need be.
    private func openLockFile(_ uuid: ServiceUUID) throws(ServiceModelError) -> LockFile {
        let directory = try serviceDirectory(uuid, create: true)
        let path = "\(directory)/\(Self.lockName)"
        do throws(POSIXCallError) {
            return LockFile(fd: try POSIX.openNoFollow(path, flags: POSIX.createReadWrite, mode: 0o600), directory: directory, path: path)
        } catch {
            throw ServiceModelError(.lockFailed, "cannot lock \(path): \(error.reason)", filePath: path, cause: error)
        }
    }

    /// Closes a lock file that could not be locked, and says so.
    private func lockFailure(_ lock: LockFile, _ error: POSIXCallError) -> ServiceModelError {
        POSIX.closeFD(lock.fd)
        return ServiceModelError(.lockFailed, "cannot lock \(lock.path): \(error.reason)", filePath: lock.path, cause: error)
    }

    /// Every svcunit writer holds this lock while its temporary file exists, so any temporary file
    /// found once it is taken belongs to a writer that died (e.g. SIGKILLed between write and rename).
    private func lockTaken(_ lock: LockFile) {
        removeAbandonedTemporaries(in: lock.directory, minimumAge: 0)
    }
}
