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
}
