import Foundation
import SystemdManager
import SystemdTestSupport
import Testing

/// Issue 12 item 4: `svcunit stop` records how the run ended itself and returns once it has, so
/// the unit's ExecStopPost exits at once instead of starting a second svcunit, and the stop does not
/// wait for it; ends nobody watches are still recorded by it.
@Suite("who records a run's end (built binary)", .serialized,
       .enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
struct RunEndTests {
    /// The unit runs a copy of svcunit that is deleted before the stop: had ExecStopPost gone on to
    /// `svcunit entrypoint --record-exit`, sh would print "not found" into the unit's journal and
    /// nothing would be recorded. The stop records the run (its invocation ID, result and exit).
    @Test func aWatchedStopRecordsTheEndWithoutASecondSvcunit() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let copy = NSTemporaryDirectory() + "svcunit-copy-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: Run.binary.path, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let uuid = try root.createSleep("watched")
        let start = try root.svcunit("start", uuid, "--entrypoint", copy)
        #expect(start.status == 0, "\(start.stderr)")
        let invocation = try LiveSystemd.show(uuid, "InvocationID")
        #expect(invocation.count == 32)
        try FileManager.default.removeItem(atPath: copy)

        let stop = try root.svcunit("stop", uuid)
        #expect(stop.status == 0, "\(stop.stderr)")
        // The record is in the document when `stop` returns, whatever systemd still does.
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(root.path)/\(uuid)/service.json"))) as? [String: Any]
        let recorded = try #require((document?["status"] as? [String: Any])?["last_run"] as? [String: Any], "\(document ?? [:])")
        #expect(recorded["invocation_id"] as? String == invocation)
        // `stop` returned once the run had ended; systemd then finishes the job (the claimed
        // ExecStopPost exits at once) and forgets the unit. The claim names that run only.
        var gone = false
        for _ in 0 ..< 600 where !gone {
            gone = try LiveSystemd.show(uuid, "LoadState") == "not-found"
            if !gone { usleep(50_000) }
        }
        #expect(gone, "the unit is gone once systemd finished the stop job")
        let status = try root.svcunit("status", uuid, "--json").object()
        let lastRun = try #require(status["last_run"] as? [String: Any], "\(status)")
        #expect(lastRun["invocation_id"] as? String == invocation)
        #expect(lastRun["result"] as? String == "success")
        #expect(lastRun["exit"] as? String == "killed by signal TERM")
        #expect(status["state"] as? String == "inactive")
        let claim = try? String(contentsOfFile: "\(root.path)/\(uuid)/.stopping", encoding: .utf8)
        #expect(claim == nil || claim == invocation + "\n", "a claim left names the stopped run only")
        let lines = try LiveSystemd.journalctlLines(try UnitName(validating: "svcunit-\(uuid).service"))
        #expect(!lines.contains { $0.contains("not found") }, "ExecStopPost ran no svcunit: \(lines)")
    }

    /// A claim left behind (a stopping svcunit that died) names one run only: the end of the next
    /// run, which nobody watches, is recorded by the unit's ExecStopPost.
    @Test func aStaleClaimNeverSilencesALaterRun() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.svcunit("create", "command", "--name", "brief", "--", "/bin/sh", "-c", "exit 3")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try "0123456789abcdef0123456789abcdef\n".write(toFile: "\(root.path)/\(uuid)/.stopping", atomically: true, encoding: .utf8)
        let start = try root.svcunit("start", uuid)
        #expect(start.status != 0, "exit 3 fails the start: \(start.stderr)")
        var lastRun: [String: Any]?
        for _ in 0 ..< 600 where lastRun == nil {  // the record arrives with the unit's end (≤ 60 s)
            lastRun = try root.svcunit("status", uuid, "--json").object()["last_run"] as? [String: Any]
            if lastRun == nil { usleep(100_000) }
        }
        let run = try #require(lastRun)
        #expect(run["exit"] as? String == "exited with status 3")
        #expect(run["result"] as? String == "exit-code")
    }
}
