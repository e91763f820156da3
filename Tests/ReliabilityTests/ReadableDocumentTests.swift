import Foundation
import SystemdTestSupport
import Testing

/// Issue 16, case 8: `create` and `register` never write a document svcunit would refuse to read.
@Suite("Documents svcunit can read back", .enabled(if: LiveSystemd.shouldRun, "runs the built svcunit"))
struct ReadableDocumentTests {
    /// `create` whose `--env` values make the document over 16 MiB (30 values of 120 000 control
    /// characters, each stored as a 6-byte `\u0001` escape: about 21 MiB): exit 5, one line naming the
    /// size, the limit and what to do; the store is byte-for-byte unchanged.
    @Test func createRefusesADocumentTooLargeToRead() async throws {
        try await live { try await withStore { store in
            _ = try await store.create(["--name", "existing"], ["/bin/sleep", marker()])
            let before = Snapshot(store.path)
            let environment = (1 ... 30).map { "--env V\($0)=\"$v\"" }.joined(separator: " ")
            // The argv (3.6 MB) needs a larger stack limit than the default 8 MiB gives exec (2 MiB).
            let script = """
                ulimit -s 65536 || exit 99
                v=$(head -c 120000 /dev/zero | tr '\\000' '\\001')
                exec "\(CLI.binary)" --root "\(store.path)" create command --name big \(environment) -- /bin/sleep 1
                """
            let run = try await CLI.shell(script)
            #expect(run.status == 5, "\(run.status) \(run.stderr.prefix(500))")
            expectOneErrorLine(run)
            #expect(run.stderr.contains("big ("), "names the service: \(run.stderr.prefix(300))")
            #expect(run.stderr.contains("MiB, more than the 16 MiB svcunit reads; nothing was written"), "\(run.stderr.prefix(300))")
            #expect(run.stderr.contains("put it in a file"), "\(run.stderr.prefix(400))")
            #expect(run.stdout.isEmpty)
            #expect(Snapshot(store.path) == before, "store unchanged")
        } }
    }

    /// `register` of a compact 6 MiB document whose command has 1.5 million words: svcunit stores
    /// documents indented, which would make it about 26 MiB; exit 5, one line, store unchanged.
    @Test func registerRefusesADocumentThatWouldGrowTooLargeToRead() async throws {
        try await live { try await withStore { store in
            let before = Snapshot(store.path)
            let uuid = UUID().uuidString.lowercased()
            let words = [String](repeating: "\"a\"", count: 1_500_000).joined(separator: ",")
            let document = """
                {"type":"svcunit.CommandService","uuid":"\(uuid)","admin_state":"inactive",\
                "config":{"name":"grows","description":"","command":["/bin/sleep",\(words)]},\
                "status":{"state":"inactive"},"endpoint":null,\
                "service_type":{"type":"daemon","flavor":"command","name":"command","description":""}}
                """
            let file = CLI.scratch + "/grows-\(uuid).json"
            try Data(document.utf8).write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            #expect(document.utf8.count < 16 << 20)
            let run = try await store.svcunit("register", file)
            #expect(run.status == 5, "\(run.status) \(run.stderr.prefix(500))")
            expectOneErrorLine(run)
            #expect(run.stderr.contains("grows ("), "\(run.stderr.prefix(300))")
            #expect(run.stderr.contains("more than the 16 MiB svcunit reads"), "\(run.stderr.prefix(300))")
            #expect(Snapshot(store.path) == before, "store unchanged")
            #expect(store.uuids.isEmpty)
        } }
    }
}
