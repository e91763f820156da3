import Foundation
import SystemdManager
import SystemdTestSupport
import Testing

/// `set`/`edit` of a running service and `delete --force` of entries whose document does not load,
/// against the real user manager; `systemctl --user` and /proc are the witnesses.
@Suite("set, edit and delete --force against systemd (built binary)", .serialized,
       .enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
struct LiveChangeTests {
    /// A running service keeps running as it was started and is told so; `--restart-now` restarts it
    /// with the change.
    @Test func aRunningServiceIsToldOrRestarted() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let marker = "300.\(UInt32.random(in: 0 ... .max))"
        let created = try root.svcunit("create", "command", "--name", "web", "--env", "MODE=one", "--", "/bin/sleep", marker)
        #expect(created.status == 0, "\(created.stderr)")
        let uuid = created.stdout.trimmingCharacters(in: .newlines)
        #expect(try root.svcunit("start", "web").status == 0)
        let pid = try LiveSystemd.show(uuid, "MainPID")

        let set = try root.svcunit("set", "web", "--env", "MODE=two")
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout == """
            changed web (\(uuid.prefix(8)))
            web (\(uuid.prefix(8))) is running (svcunit-\(uuid).service): the change applies at its next start; \
            `svcunit restart web` applies it now

            """, "\(set.stdout)")
        #expect(try LiveSystemd.show(uuid, "MainPID") == pid, "not restarted")
        #expect(try environment(of: pid)["MODE"] == "one")

        // edit too (with --json on set, the notice goes to stderr).
        let editor = root.path + "/editor.sh"
        try "#!/bin/sh\nsed -i 's|\"MODE\": \"two\"|\"MODE\": \"three\"|' \"$1\"\n".write(toFile: editor, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: editor)
        let edit = try root.svcunit("edit", "web", environment: ["EDITOR": editor, "VISUAL": ""])
        #expect(edit.status == 0, "\(edit.stderr)")
        #expect(edit.stdout.contains("the change applies at its next start"), "\(edit.stdout)")
        let json = try root.svcunit("set", "web", "--description", "d", "--json")
        #expect(json.status == 0, "\(json.stderr)")
        #expect(try json.object()["uuid"] as? String == uuid, "\(json.stdout)")
        #expect(json.stderr.contains("the change applies at its next start"), "\(json.stderr)")
        #expect(try LiveSystemd.show(uuid, "MainPID") == pid)

        let restart = try root.svcunit("set", "web", "--env", "MODE=four", "--restart-now")
        #expect(restart.status == 0, "\(restart.stderr)")
        #expect(restart.stdout == "changed web (\(uuid.prefix(8)))\nrestarted \(uuid) (web)\n", "\(restart.stdout)")
        let newPID = try LiveSystemd.show(uuid, "MainPID")
        #expect(newPID != pid && newPID != "0")
        #expect(try environment(of: newPID)["MODE"] == "four")
        #expect(try LiveSystemd.show(uuid, "ActiveState") == "active")
        #expect(root.storedUUIDs == [uuid], "the same UUID throughout")

        // Stopped: nothing to tell.
        #expect(try root.svcunit("stop", "web").status == 0)
        let stopped = try root.svcunit("set", "web", "--env", "MODE=five")
        #expect(stopped.stdout == "changed web (\(uuid.prefix(8)))\n", "\(stopped.stdout)")
    }

    /// `delete --force` removes an entry whose document does not load (malformed, too large, unknown
    /// type, no service.json) once no unit of it runs; while its unit runs it is kept.
    @Test func deleteForceRemovesEntriesWhoseDocumentDoesNotLoad() async throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let malformed = try plant(root, "{ not json")
        let unknown = try plant(root, #"{"type": "svcunit.NoSuchKind", "uuid": "UUID", "config": {}, "status": {}}"#)
        let large = try plant(root, "{" + String(repeating: " ", count: 16 << 20) + "}")
        let empty = UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: root.path + "/" + empty, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        let plain = try root.svcunit("delete", malformed)
        #expect(plain.status == 5, "\(plain.stderr)")
        for uuid in [malformed, unknown, large, empty] {
            let delete = try root.svcunit("delete", "--force", uuid)
            #expect(delete.status == 0, "\(uuid): \(delete.stderr)")
            #expect(delete.stdout == "deleted \(uuid) (its document could not be loaded)\n", "\(delete.stdout)")
        }
        #expect(root.storedUUIDs.isEmpty)

        // A running service whose document is then broken: its unit still runs this store's file (an
        // orphan, issue 16.5), so `delete --force` stops that unit first and then removes the entry.
        let marker = "300.\(UInt32.random(in: 0 ... .max))"
        let created = try root.svcunit("create", "command", "--name", "victim", "--", "/bin/sleep", marker)
        let uuid = created.stdout.trimmingCharacters(in: .newlines)
        #expect(try root.svcunit("start", uuid).status == 0)
        let pid = try LiveSystemd.show(uuid, "MainPID")
        try "{ broken".write(toFile: "\(root.path)/\(uuid)/service.json", atomically: true, encoding: .utf8)
        let forced = try root.svcunit("delete", "--force", uuid)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout == "deleted \(uuid) (its document could not be loaded)\n", "\(forced.stdout)")
        #expect(root.storedUUIDs.isEmpty)
        #expect(try LiveSystemd.show(uuid, "ActiveState") != "active")
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(pid)/cmdline") ||
                (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.contains(marker) != true,
                "the service's process is gone")
    }

    /// The environment of a process, from /proc.
    func environment(of pid: String) throws -> [String: String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
        var out: [String: String] = [:]
        for entry in data.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            if let eq = text.firstIndex(of: "=") { out[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
        }
        return out
    }

    /// A new entry of ours (0700 directory) holding `text` as service.json (`UUID` in it replaced).
    func plant(_ root: TemporaryRoot, _ text: String) throws -> String {
        let uuid = UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: root.path + "/" + uuid, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        try text.replacingOccurrences(of: "UUID", with: uuid).write(toFile: "\(root.path)/\(uuid)/service.json", atomically: true, encoding: .utf8)
        return uuid
    }
}
