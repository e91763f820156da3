import Foundation
import Synchronization
import ServiceKinds
import ServiceModel
import Testing

@Suite("Service store")
struct StoreTests {
    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as! NSNumber).intValue & 0o777
    }

    /// The lock the entrypoint shares and the directory part of a path, from the document's path alone.
    @Test func pathsDerivedFromADocumentsPath() {
        #expect(ServiceStore.lockPath(forConfigFile: "/s/u/service.json") == "/s/u/.lock")
        #expect(PathText.directory(of: "/s/u/service.json") == "/s/u")
        #expect(PathText.directory(of: "/service.json") == "/")
        #expect(PathText.directory(of: "service.json") == ".")
        #expect(PathText.directory(of: "ü/é") == "ü")
        #expect(RunEndClaim.path(forConfigFile: "/s/u/service.json") == "/s/u/.stopping")
    }

    /// `orderKey` orders UUIDs as their canonical texts do, so a scan sorted by it is in `<` order.
    @Test func uuidOrderKeysOrderAsTheTexts() throws {
        var uuids = (0 ..< 500).map { _ in ServiceUUID.random() }
        for text in ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
                     "0000000a-0000-0000-0000-000000000000", "00000009-ffff-ffff-ffff-ffffffffffff",
                     "12345678-9abc-def0-1234-56789abcdef0", "12345678-9abc-def0-1234-56789abcdef1"] {
            uuids.append(try #require(ServiceUUID(rawValue: text)))
        }
        let byKey = uuids.sorted { $0.orderKey < $1.orderKey }
        #expect(byKey == uuids.sorted())

        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root + "/store")
        let registry = BuiltinKinds.registry()
        for _ in 0 ..< 40 { try store.save(try registry.decode(data: Data(sleeperJSON { $0["uuid"] = .string(ServiceUUID.random().rawValue) }.utf8))) }
        let scanned = try store.scanFiles().services.map(\.uuid)
        #expect(scanned.count == 40 && scanned == scanned.sorted())
        #expect(ServiceUUID(rawValue: "12345678-9abc-def0-1234-56789abcdef0")!.orderKey == (0x1234_5678_9abc_def0, 0x1234_5678_9abc_def0))
    }

    @Test func savesAtomicallyWithPrivateModesAndLoadsBack() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root + "/store")
        let registry = BuiltinKinds.registry()
        let document = try registry.decode(data: try fixture("zenml-sleeper"))
        try store.save(document)
        let directory = store.directory(for: document.uuid)
        #expect(try Self.mode(root + "/store") == 0o700)
        #expect(try Self.mode(directory) == 0o700)
        #expect(try Self.mode(store.file(for: document.uuid)) == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["service.json"], "no temporary file is left")
        #expect(try store.read(document.uuid) == document.encoded())
        let service = try store.load(document.uuid, with: registry)
        #expect(service.document.json == document.json)
        // Saving again replaces the file.
        service.update { $0.status.updateState(.error, error: "boom") }
        try store.save(service)
        let reloaded = try store.load(document.uuid, with: registry)
        #expect(reloaded !== service, "a load is a new object; one per UUID is LiveServices' job")
        #expect(reloaded.document.status.lastError == "boom")
        #expect(try store.list() == [document.uuid])
        try store.delete(document.uuid)
        #expect(try store.list().isEmpty)
        let missing = try #require(modelError { _ = try store.read(document.uuid) })
        #expect(missing.code == .fileNotFound)
        #expect(missing.message.contains(document.uuid.rawValue))
    }

    /// A writer SIGKILLed between creating its temporary file and renaming it leaves the file behind.
    /// The next process to take the service's lock removes it (every writer holds the lock while its
    /// temporary file exists); a write without the lock leaves a fresh one alone, since it may be live.
    @Test func takingTheLockRemovesTemporaryFilesOfDeadWriters() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root + "/store")
        let document = try BuiltinKinds.registry().decode(data: try fixture("zenml-sleeper"))
        try store.withLock(document.uuid) { try store.save(document) }
        let directory = store.directory(for: document.uuid)
        let leftover = "\(directory)/.service.json.\(UUID().uuidString.lowercased()).tmp"
        let unrelated = "\(directory)/notes.tmp"
        #expect(FileManager.default.createFile(atPath: leftover, contents: Data("{\"half".utf8)))
        #expect(FileManager.default.createFile(atPath: unrelated, contents: Data()))
        let before = try store.read(document.uuid)

        try store.write(before, for: document.uuid)
        #expect(FileManager.default.fileExists(atPath: leftover), "a fresh temporary file may belong to a live writer")

        try store.withLock(document.uuid) {
            #expect(!FileManager.default.fileExists(atPath: leftover), "gone as soon as the lock is held")
        }
        #expect(FileManager.default.fileExists(atPath: unrelated), "only svcunit's own temporary files are removed")
        #expect(try store.read(document.uuid) == before, "the document is untouched")
    }

    @Test func refusesASymlinkPlantedAtTheServiceDirectory() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root + "/store")
        let uuid = ServiceUUID.random()
        try FileManager.default.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: store.directory(for: uuid), withDestinationPath: root + "/elsewhere")
        let document = ServiceDocument(kind: SleepingDaemon.self, uuid: uuid, config: LocalDaemonServiceConfig(flavor: SleepingDaemon.Config(wakeUpAfter: 1)))
        let error = try #require(modelError { try store.save(document) })
        #expect(error.code == .unsafePath)
        #expect(error.message.contains(uuid.rawValue))
        #expect(error.message.contains("symbolic link"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/elsewhere").isEmpty)
        let readError = try #require(modelError { _ = try store.read(uuid) })
        #expect(readError.code == .unsafePath)
    }

    @Test func refusesASymlinkPlantedAtServiceJSON() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root + "/store")
        let document = try BuiltinKinds.registry().decode(data: try fixture("zenml-sleeper"))
        try store.save(document)
        let target = root + "/victim"
        _ = FileManager.default.createFile(atPath: target, contents: Data("secret".utf8))
        try FileManager.default.removeItem(atPath: store.file(for: document.uuid))
        try FileManager.default.createSymbolicLink(atPath: store.file(for: document.uuid), withDestinationPath: target)
        let readError = try #require(modelError { _ = try store.read(document.uuid) })
        #expect(readError.code == .unsafePath)
        #expect(readError.message.contains("service.json"))
        let writeError = try #require(modelError { try store.save(document) })
        #expect(writeError.code == .unsafePath)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "secret")
    }

    @Test func refusesARootWritableByOthers() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: root)
        let error = try #require(modelError { _ = try ServiceStore(root: root) })
        #expect(error.code == .unsafePath)
        #expect(error.message.contains(root))
        #expect(error.message.contains("writable by group or others"))
        #expect(error.description.contains("chmod go-w"))
    }

    @Test func refusesARootOwnedByAnotherUser() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Only possible when the tests run as root (as in CI containers); otherwise chown fails.
        guard (try? FileManager.default.setAttributes([.ownerAccountID: 4242], ofItemAtPath: root)) != nil else { return }
        let error = try #require(modelError { _ = try ServiceStore(root: root) })
        #expect(error.code == .unsafePath)
        #expect(error.message.contains("owned by uid 4242"))
    }

    @Test func fileWhoseUUIDDoesNotMatchItsDirectoryIsRejected() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root)
        let document = try BuiltinKinds.registry().decode(data: try fixture("zenml-sleeper"))
        let other = ServiceUUID.random()
        try store.write(document.encoded(), for: other)
        let error = try #require(modelError { _ = try store.load(other, with: BuiltinKinds.registry()) })
        #expect(error.message.contains(other.rawValue))
        #expect(error.message.contains(document.uuid.rawValue))
    }

    @Test func decodingErrorsNameTheFile() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root)
        let uuid = ServiceUUID.random()
        try store.write(Data("{\"uuid\": ".utf8), for: uuid)
        let error = try #require(modelError { _ = try store.load(uuid, with: BuiltinKinds.registry()) })
        #expect(error.code == .truncatedJSON)
        #expect(error.description.contains(store.file(for: uuid)))
    }

    @Test func lockSerialisesReadModifyWrite() async throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root)
        let uuid = ServiceUUID.random()
        let counterPath = root + "/counter"
        _ = FileManager.default.createFile(atPath: counterPath, contents: Data("0".utf8))
        // Separate threads each open their own lock file descriptor, so flock excludes them.
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<25 {
                        try? store.withLock(uuid) {
                            let value = Int(try String(contentsOfFile: counterPath, encoding: .utf8))!
                            try String(value + 1).write(toFile: counterPath, atomically: false, encoding: .utf8)
                        }
                    }
                }
            }
        }
        #expect(try String(contentsOfFile: counterPath, encoding: .utf8) == "100")
        #expect(FileManager.default.fileExists(atPath: store.directory(for: uuid) + "/.lock"))
    }

    /// Waiting for a service's lock takes no thread of the cooperative pool. A start holds the lock
    /// across its D-Bus call, and resuming it to release the lock needs one of the pool's threads,
    /// of which there are as many as cores. Here more tasks than that wait for the lock while
    /// another open file holds it, and a task queued after them must still run before it is
    /// released. Before, each waiter blocked a thread in flock(2): two starts at once in each of two
    /// tests blocked both threads of a 2-core machine, and the test run hung.
    @Test func waitersForTheLockLeaveTheCooperativePoolFree() async throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root)
        let uuid = ServiceUUID.random()
        // The deadline only turns the hang this test would meet before the fix into a failure.
        let holder = LockHolder(store, uuid, releasingAfter: 120)
        holder.held.wait()
        let waiters = 2 * ProcessInfo.processInfo.activeProcessorCount + 2
        let taken = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0 ..< waiters {
                group.addTask { try await store.withLock(awaiting: uuid) { taken.add() } }
            }
            // Queued behind the waiters: it runs only if they left the pool's threads free.
            #expect(await Task.detached { true }.value)
            #expect(taken.value == 0, "no waiter takes a lock that is held")
            #expect(holder.release(), "the waiters held every thread of the pool until the lock was released")
            try await group.waitForAll()
        }
        #expect(taken.value == waiters)
    }
}

/// Holds a service's lock on a thread of its own (the way another process would), until
/// `release()` or a deadline.
final class LockHolder: Sendable {
    let held = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)
    private let timedOut = Mutex(false)

    init(_ store: ServiceStore, _ uuid: ServiceUUID, releasingAfter seconds: Int) {
        Thread.detachNewThread { [self] in
            try? store.withLock(uuid) {
                held.signal()
                if released.wait(timeout: .now() + .seconds(seconds)) == .timedOut { timedOut.withLock { $0 = true } }
            }
        }
    }

    /// Releases the lock; false when the deadline had released it already.
    func release() -> Bool {
        released.signal()
        return !timedOut.withLock { $0 }
    }
}

/// A count that tasks add to.
final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
