import Foundation
import SystemdManager
import SystemdTestSupport
import Testing

/// Issue 14 item 7: `--verbose` / `SVCUNIT_LOG_LEVEL=debug` print each D-Bus call and probe with its
/// duration on stderr; silent by default.
@Suite("diagnostics (built binary)", .serialized, .enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
struct DiagnosticsTests {
    @Test func verboseShowsEachCallWithItsDuration() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.svcunit("create", "command", "--name", "diag", "--protocol", "tcp", "--port", "1",
                                    "--no-allocate-port", "--", "/bin/sleep", "300").stdout.trimmingCharacters(in: .newlines)
        let quiet = try root.svcunit("status", uuid)
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(quiet.stderr.isEmpty, "silent by default: \(quiet.stderr)")
        for (arguments, environment) in [(["--verbose", "status", uuid], [String: String]()),
                                          (["status", uuid], ["SVCUNIT_LOG_LEVEL": "debug"])] {
            let run = try Run.svcunit(["--root", root.path] + arguments, environment: environment)
            #expect(run.status == 0, "\(run.stderr)")
            let lines = run.stderr.split(separator: "\n").map(String.init)
            // The service never ran, so the manager does not hold its unit: status asks GetUnit
            // (which answers NoSuchUnit, logged with its duration and ", failed: …").
            #expect(lines.contains { $0.contains("debug svcunit.bus") && $0.contains("D-Bus org.freedesktop.systemd1.Manager.GetUnit")
                        && $0.contains(" ms") },
                    "\(arguments) \(environment): \(run.stderr)")
            #expect(!run.stdout.contains("svcunit.bus"), "diagnostics never mix with stdout")
        }
        let unknownLevel = try root.svcunit("status", uuid, environment: ["SVCUNIT_LOG_LEVEL": "chatty"])
        #expect(unknownLevel.status == 0 && unknownLevel.stderr.isEmpty, "an unknown level keeps the default: \(unknownLevel.stderr)")
    }

    /// A service's unit names the document it runs at the end of its description, so `list` tells
    /// this store's units without reading each one's ExecStart: one ListUnitsByPatterns, no Get.
    /// (Units of another store still are read: StoreIdentityTests.)
    @Test func listReadsNoUnitThatItsDescriptionVouchesFor() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuids = try (1...3).map { i in
            try root.svcunit("create", "command", "--name", "described-\(i)", "--", "/bin/sleep", "300").stdout.trimmingCharacters(in: .newlines)
        }
        #expect(try Run.svcunit(["--root", root.path, "start"] + uuids).status == 0)
        let description = try LiveSystemd.show(uuids[0], "Description")
        #expect(description.hasPrefix("svcunit described-1 (daemon/command) from /") && description.hasSuffix("/\(uuids[0])/service.json"), "\(description)")
        let run = try Run.svcunit(["--root", root.path, "--verbose", "list", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let calls = run.stderr.split(separator: "\n").filter { $0.contains("D-Bus org.freedesktop") }
        #expect(calls.contains { $0.contains("ListUnitsByPatterns") }, "\(run.stderr)")
        #expect(!calls.contains { $0.contains("Properties.Get") }, "no unit read: \(run.stderr)")
        let rows = try run.array()
        #expect(rows.filter { $0["state"] as? String == "active" }.count == 3, "\(run.stdout)")
        _ = try Run.svcunit(["--root", root.path, "stop"] + uuids)
    }

    /// Before it asks systemd to start a service whose unit is not loaded, `start` reads the transient
    /// unit once (the watch's own read), the template instance once and its unit file state once:
    /// the first status read and `provision` reuse those answers instead of asking again.
    @Test func startReadsEachUnitOnceBeforeStartingIt() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("read-once")
        let run = try root.svcunit("--verbose", "start", uuid)
        #expect(run.status == 0, "\(run.stderr)")
        let calls = run.stderr.split(separator: "\n").filter { $0.contains("D-Bus org.freedesktop") }
        let before = calls.prefix { !$0.contains("StartTransientUnit") }
        #expect(before.count < calls.count, "StartTransientUnit was called: \(run.stderr)")
        #expect(before.filter { $0.contains("Manager.GetUnit ") }.count == 2, "transient unit and template instance: \(before)")
        #expect(before.filter { $0.contains("GetUnitFileState") }.count == 1, "\(before)")
        #expect(before.count == 3, "nothing else: \(before)")
        _ = try root.svcunit("stop", uuid)
    }
}
