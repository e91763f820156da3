import Foundation
import ServiceKinds
import ServiceModel
import Testing

/// `ServiceSummaryCache`: what `list` keeps of each document between runs, and what it refuses to keep.
@Suite("Listing cache")
struct SummaryCacheTests {
    /// A file identity that last changed an hour ago (old enough to keep) or `now`.
    static func identity(inode: UInt64, size: Int64 = 100, changedNow: Bool = false) -> ServiceStore.FileIdentity {
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let time = changedNow ? now : now - 3_600_000_000_000
        return ServiceStore.FileIdentity(device: 1, inode: inode, size: size, modified: time, changed: time)
    }

    static let uuids = (1...4).map { ServiceUUID(rawValue: "00000000-0000-4000-8000-00000000000\($0)")! }

    @Test func keepsSummariesAndErrorsPerFileVersionAndGeneration() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root + "/store")
        let document = try BuiltinKinds.registry().decode(data: try fixture("zenml-sleeper"))
        var summary = ServiceSummary(document)
        summary.name = "tab\there\nnew line \\ back\\slash \\t not a tab"
        let error = ServiceSummaryCache.CachedError("bad\tfile\\n: \"quoted\"\nsecond")
        let files = (0..<4).map { ServiceStore.StoredFile(uuid: Self.uuids[$0], identity: Self.identity(inode: UInt64($0) + 10, changedNow: $0 == 2)) }

        var cache = ServiceSummaryCache(store: store, generation: "gen 1")
        #expect(cache.outcome(for: files[0].uuid, identity: files[0].identity) == nil, "nothing kept yet")
        cache.record(files[0].uuid, identity: files[0].identity, outcome: .success(summary))
        cache.record(files[1].uuid, identity: files[1].identity, outcome: .failure(error))
        cache.record(files[2].uuid, identity: files[2].identity, outcome: .success(summary))  // changed just now
        cache.save(listed: files)

        let again = ServiceSummaryCache(store: store, generation: "gen 1")
        #expect(again.outcome(for: files[0].uuid, identity: files[0].identity) == .success(summary), "escapes round-trip")
        #expect(again.outcome(for: files[1].uuid, identity: files[1].identity) == .failure(error))
        #expect(again.outcome(for: files[2].uuid, identity: files[2].identity) == nil,
                "a file changed within the racy window is decoded again next time")
        #expect(again.outcome(for: files[3].uuid, identity: files[3].identity) == nil, "never recorded")
        var grown = files[0].identity
        grown.size += 1
        #expect(again.outcome(for: files[0].uuid, identity: grown) == nil, "another version of the file")
        var replaced = files[0].identity
        replaced.inode += 100
        #expect(again.outcome(for: files[0].uuid, identity: replaced) == nil, "a file renamed over it")
        #expect(ServiceSummaryCache(store: store, generation: "gen 2").outcome(for: files[0].uuid, identity: files[0].identity) == nil,
                "another build decodes anew")

        // A service no longer listed leaves the cache at the next save.
        again.save(listed: [files[1]])
        let pruned = ServiceSummaryCache(store: store, generation: "gen 1")
        #expect(pruned.outcome(for: files[0].uuid, identity: files[0].identity) == nil)
        #expect(pruned.outcome(for: files[1].uuid, identity: files[1].identity) == .failure(error))
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.root).filter { $0.hasSuffix(".tmp") }.isEmpty)
    }

    /// A damaged or foreign cache file is an empty cache: it costs a decode, never a wrong row.
    @Test(arguments: ["", "garbage\n", "svcunit list cache 1\tgen\nnot\tenough\tfields\n",
                      "svcunit list cache 1\tgen\n00000000-0000-4000-8000-000000000001\t1\tx\t100\t1\t1\tok\tn\tt\tf\t-\t-\t-\t.\n",
                      "svcunit list cache 1\tgen\n00000000-0000-4000-8000-000000000001\t1\t10\t100\t1\t1\tok\tn\tt\tf\tgopher\t-\t-\t.\n"])
    func damagedFilesAreEmpty(_ text: String) throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root + "/store")
        try text.write(toFile: store.root + "/" + ServiceSummaryCache.fileName, atomically: true, encoding: .utf8)
        let cache = ServiceSummaryCache(store: store, generation: "gen")
        let id = ServiceStore.FileIdentity(device: 1, inode: 10, size: 100, modified: 1, changed: 1)
        #expect(cache.outcome(for: Self.uuids[0], identity: id) == nil)
    }

    /// The identity `scanFiles` reports moves with every write of the document.
    @Test func scanReportsANewIdentityAfterEveryWrite() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ServiceStore(root: root + "/store")
        let document = try BuiltinKinds.registry().decode(data: try fixture("zenml-sleeper"))
        try store.save(document)
        let first = try #require(try store.scanFiles().services.first)
        #expect(first.uuid == document.uuid)
        try store.save(document)
        let second = try #require(try store.scanFiles().services.first)
        #expect(second.identity != first.identity, "a save renames a new file over the old one")
    }
}
