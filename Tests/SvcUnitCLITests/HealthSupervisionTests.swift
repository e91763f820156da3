import Foundation
import ServiceModel
import SystemdManager
import SystemdTestSupport
import Testing

/// Issue 13, the settings: `create`/`set` options validated before anything is written, stored in the
/// document's own `svcunit` object. No user manager needed.
@Suite("issue 13: health supervision settings (built binary)")
struct HealthSupervisionSettingsTests {
    static let env = OfflineCommandTests.noManager
    static let removing = OfflineCommandTests.noManagerRemoving

    func svcunit(_ root: TemporaryRoot, _ arguments: [String]) throws -> Run {
        try Run.svcunit(["--root", root.path] + arguments, environment: Self.env, removing: Self.removing)
    }

    static let http = ["--health-path", "/health", "--", "/usr/bin/python3", "-m", "http.server", "{port}"]

    /// Bad values are a usage error (exit 2) with one clear line, and nothing is stored.
    @Test(arguments: [
        (["--health-interval", "0"], "--health-interval 0 must be 1 to 86400 seconds"),
        (["--health-interval", "-5"], "--health-interval -5 must be"),
        (["--health-interval", "0.5"], "--health-interval 0.5 must be 1 to 86400 seconds"),
        (["--health-interval", "2d"], "--health-interval 2d is more than one day"),
        (["--health-interval", "soon"], "--health-interval \"soon\" is not a duration"),
        (["--unhealthy-after", "0"], "--unhealthy-after \"0\" must be a whole number of failed checks, 1 to 1000"),
        (["--unhealthy-after", "2.5"], "--unhealthy-after \"2.5\""),
        (["--unhealthy-after", "5000"], "1 to 1000"),
        (["--on-unhealthy", "reboot"], "--on-unhealthy \"reboot\" is not an action; give restart or record"),
        (["--health-grace", "-1"], "--health-grace -1 must be"),
    ] as [([String], String)])
    func createRefusesBadSupervision(arguments: [String], words: String) throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let run = try svcunit(root, ["create", "command", "--name", "web"] + arguments + Self.http)
        #expect(run.status == 2, "\(arguments): \(run.stderr)")
        #expect(run.errorLines.count == 1, "\(arguments): \(run.stderr)")
        #expect(run.stderr.hasPrefix("svcunit: error: "), "\(run.stderr)")
        #expect(run.stderr.contains(words), "\(arguments): \(run.stderr)")
        #expect(root.storedUUIDs.isEmpty, "nothing stored")
    }

    /// Supervision needs something to check.
    @Test func supervisionWithoutAMonitorIsRefused() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let run = try svcunit(root, ["create", "command", "--health-interval", "5", "--", "/bin/sleep", "300"])
        #expect(run.status == 2)
        #expect(run.errorLines.count == 1, "\(run.stderr)")
        #expect(run.stderr.contains("health supervision needs an endpoint with a health monitor"), "\(run.stderr)")
        #expect(root.storedUUIDs.isEmpty)

        let uuid = try root.createSleep("plain")
        let before = try bytes(root, uuid)
        let set = try svcunit(root, ["set", "plain", "--on-unhealthy", "record"])
        #expect(set.status == 2)
        #expect(set.stderr.contains("health supervision needs an endpoint"), "\(set.stderr)")
        #expect(try bytes(root, uuid) == before, "the document is unchanged")
    }

    /// Stored in `svcunit.health`, off by default; `set` changes only what it is given, and
    /// `--no-health-supervision` removes it; a bad `set` leaves the document byte for byte.
    @Test func settingsLiveInSvcunitsOwnObject() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let plain = try svcunit(root, ["create", "command", "--name", "plain"] + Self.http)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(try document(root, plain.stdout.trimmingCharacters(in: .newlines))["svcunit"] == nil, "off unless asked for")

        let created = try svcunit(root, ["create", "command", "--name", "web", "--health-interval", "2.5", "--unhealthy-after", "4"] + Self.http)
        #expect(created.status == 0, "\(created.stderr)")
        let uuid = created.stdout.trimmingCharacters(in: .newlines)
        let health = try #require((try document(root, uuid)["svcunit"] as? [String: Any])?["health"] as? [String: Any])
        #expect(health["interval_seconds"] as? Double == 2.5)
        #expect(health["unhealthy_after"] as? Int == 4)
        #expect(health["on_unhealthy"] as? String == "restart")
        #expect(health["grace_seconds"] as? Int == 0)

        #expect(try svcunit(root, ["set", "web", "--on-unhealthy", "record", "--health-grace", "30"]).status == 0)
        let changed = try #require((try document(root, uuid)["svcunit"] as? [String: Any])?["health"] as? [String: Any])
        #expect(changed["interval_seconds"] as? Double == 2.5, "kept")
        #expect(changed["unhealthy_after"] as? Int == 4, "kept")
        #expect(changed["on_unhealthy"] as? String == "record")
        #expect(changed["grace_seconds"] as? Int == 30)

        let before = try bytes(root, uuid)
        for bad in [["--health-interval", "0"], ["--unhealthy-after", "0"], ["--on-unhealthy", "ignore"],
                    ["--no-health-supervision", "--health-interval", "5"]] {
            let run = try svcunit(root, ["set", "web"] + bad)
            #expect(run.status == 2, "\(bad): \(run.stderr)")
            #expect(run.errorLines.count == 1, "\(bad): \(run.stderr)")
            #expect(try bytes(root, uuid) == before, "\(bad): the document is unchanged")
        }

        #expect(try svcunit(root, ["set", "web", "--no-health-supervision"]).status == 0)
        #expect(try document(root, uuid)["svcunit"] == nil, "removed, with the then empty svcunit object")
    }

    /// A ZenML document (a user's Python class) is supervised through svcunit's own object: its own
    /// fields stay as ZenML wrote them; one without an endpoint cannot be supervised.
    @Test func aZenMLDocumentIsSupervisedThroughSvcunitsObject() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        // A user's class (my_project.services.SleepingDaemon) with ZenML's TCP endpoint of another fixture.
        var zenml = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixturePath("zenml-no-service-type")))) as? [String: Any])
        let sleeper = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixturePath("zenml-sleeper")))) as? [String: Any])
        zenml["endpoint"] = sleeper["endpoint"]
        let file = root.path + "/zenml.json"
        try JSONSerialization.data(withJSONObject: zenml).write(to: URL(fileURLWithPath: file))
        let registered = try svcunit(root, ["register", file, "--no-check", "--python", "/bin/sh", "--workdir", "/"])
        #expect(registered.status == 0, "\(registered.stderr)")
        let uuid = "0b6f2b4e-5a1d-4c3e-9f8a-7d6c5b4a3921"
        let before = try document(root, uuid)
        let set = try svcunit(root, ["set", uuid, "--health-interval", "15", "--on-unhealthy", "record"])
        #expect(set.status == 0, "\(set.stderr)")
        let after = try document(root, uuid)
        let health = try #require((after["svcunit"] as? [String: Any])?["health"] as? [String: Any])
        #expect(health["interval_seconds"] as? Int == 15 && health["on_unhealthy"] as? String == "record", "\(health)")
        #expect((after["svcunit"] as? [String: Any])?["python"] as? String == "/bin/sh", "the interpreter is kept")
        for key in ["type", "uuid", "config", "status", "endpoint"] {
            let a = try JSONSerialization.data(withJSONObject: after[key] ?? NSNull(), options: [.sortedKeys, .fragmentsAllowed])
            let b = try JSONSerialization.data(withJSONObject: before[key] ?? NSNull(), options: [.sortedKeys, .fragmentsAllowed])
            #expect(a == b, "\(key) is ZenML's and unchanged")
        }

        let bareRoot = try TemporaryRoot()
        defer { bareRoot.cleanUp() }
        #expect(try svcunit(bareRoot, ["register", fixturePath("zenml-no-service-type"), "--no-check", "--python", "/bin/sh", "--workdir", "/"]).status == 0)
        let bare = try svcunit(bareRoot, ["set", uuid, "--health-interval", "15"])
        #expect(bare.status == 2, "\(bare.stderr)")
        #expect(bare.stderr.contains("health supervision needs an endpoint"), "\(bare.stderr)")
    }

    /// A hand-edited document with an out-of-range value is refused by the loader (exit 5, the field
    /// named), through the same rule as the options.
    @Test func theLoaderRefusesOutOfRangeSettings() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let created = try svcunit(root, ["create", "command", "--name", "web", "--health-interval", "5"] + Self.http)
        let uuid = created.stdout.trimmingCharacters(in: .newlines)
        let text = String(decoding: try bytes(root, uuid), as: UTF8.self)
        for (from, to, field) in [("\"interval_seconds\": 5", "\"interval_seconds\": 0", "svcunit.health.interval_seconds"),
                                  ("\"unhealthy_after\": 3", "\"unhealthy_after\": 0", "svcunit.health.unhealthy_after"),
                                  ("\"on_unhealthy\": \"restart\"", "\"on_unhealthy\": \"reboot\"", "svcunit.health.on_unhealthy")] {
            #expect(text.contains(from), "\(text)")
            let file = root.path + "/edited.json"
            try text.replacingOccurrences(of: from, with: to).write(toFile: file, atomically: true, encoding: .utf8)
            let run = try svcunit(root, ["inspect", file])
            #expect(run.status == 5, "\(field): \(run.stderr)")
            #expect(run.errorLines.first?.contains(field) == true, "\(run.stderr)")
        }
    }

    func bytes(_ root: TemporaryRoot, _ uuid: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: "\(root.path)/\(uuid)/service.json"))
    }

    func document(_ root: TemporaryRoot, _ uuid: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: bytes(root, uuid)) as? [String: Any])
    }
}

/// Issue 13 against the real user manager: the transient timer and check, the journal records, the
/// restart of an unhealthy service, and that nothing is left behind. Waits are for outcomes, with
/// long deadlines; nothing asserts how long anything took.
@Suite("issue 13: health supervision", .serialized,
       .enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
struct HealthSupervisionTests {
    /// An HTTP server whose /health answers 500 while the file `flag` exists, 200 otherwise.
    static let server = """
        import http.server, os, sys
        port, flag = int(sys.argv[1]), sys.argv[2]
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                code = 500 if os.path.exists(flag) else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            def log_message(self, *args):
                pass
        http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
        """

    /// A store with the flip server in it.
    struct Fixture {
        let root: TemporaryRoot
        var flag: String { root.path + "/unhealthy" }
        var script: String { root.path + "/flip.py" }

        init() throws {
            root = try TemporaryRoot()
            try HealthSupervisionTests.server.write(toFile: script, atomically: true, encoding: .utf8)
        }

        /// Creates the flip server as `name` with these supervision options and returns its UUID. Its
        /// preferred port is a random free one (as in SystemdProvisioningTests): suites run in parallel,
        /// and services of other tests take the ports from 8000 up.
        func create(_ name: String, _ options: [String]) throws -> String {
            let run = try root.svcunit(arguments: ["create", "command", "--name", name, "--health-path", "/health",
                                                   "--port", String(HealthSupervisionTests.randomFreePort())] + options
                                       + ["--", "/usr/bin/python3", script, "{port}", flag])
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func setUnhealthy(_ unhealthy: Bool) {
            if unhealthy { _ = FileManager.default.createFile(atPath: flag, contents: Data()) } else { try? FileManager.default.removeItem(atPath: flag) }
        }

        /// `svcunit health NAME --json -n N`, parsed.
        func history(_ name: String, _ n: Int = 200) throws -> [[String: Any]] {
            let run = try root.svcunit(arguments: ["health", name, "--json", "-n", String(n)])
            #expect(run.status == 0, "\(run.stderr)")
            return try run.jsonLines()
        }

        /// `svcunit status NAME --json`'s `health` object.
        func health(_ name: String) throws -> [String: Any] {
            let status = try root.svcunit(arguments: ["status", name, "--json"])
            #expect(status.status == 0, "\(status.stderr)")
            return try #require(try status.object()["health"] as? [String: Any], "\(status.stdout)")
        }
    }

    static func randomFreePort() -> Int { TestPorts.free() }

    /// The loaded units of the service's health supervision, as `systemctl --user list-units --all` lists them.
    static func healthUnits(_ uuid: String) throws -> [String] {
        try LiveSystemd.run("/usr/bin/systemctl", ["--user", "list-units", "--all", "--plain", "--no-legend", "svcunit-health-\(uuid).*"])
            .output.split(separator: "\n").map { String($0) }.filter { !$0.isEmpty }
    }

    /// Whether the service's timer is (or, within a generous deadline, becomes) active: `start` returns
    /// once the service is up, and systemd runs the timer's start job, ordered after it, right after.
    static func timerIsActive(_ uuid: String) throws -> Bool {
        try eventually { try timerState(uuid) == "active" }
    }

    static func timerState(_ uuid: String) throws -> String {
        try LiveSystemd.systemctlShow(try .init(validating: "svcunit-health-\(uuid).timer"), "ActiveState")
    }

    /// Polls `condition` until it holds or a generous deadline passes (never an assertion on time).
    static func eventually(_ seconds: Double = 90, _ condition: () throws -> Bool) rethrows -> Bool {
        try LiveLogsTests.eventually(seconds, condition)
    }

    /// 500s make the service unhealthy after the threshold; svcunit restarts its unit, the history shows
    /// the failures and the restart (as a health restart, not systemd's crash restart), and once the
    /// endpoint answers again the service is healthy, with the timer still running.
    @Test func anUnhealthyServiceIsRestartedAndIsHealthyAgain() throws {
        let f = try Fixture()
        defer { f.root.cleanUp() }
        let uuid = try f.create("flaky", ["--health-interval", "1", "--unhealthy-after", "2"])
        let start = try f.root.svcunit(arguments: ["start", "flaky"])
        try #require(start.status == 0, "\(start.stderr)")  // the waits below would only time out
        let firstPID = try LiveSystemd.show(uuid, "MainPID")
        #expect(try Self.eventually { try f.history("flaky").contains { $0["result"] as? String == "ok" } }, "checks run and pass")
        #expect(try Self.timerIsActive(uuid))

        f.setUnhealthy(true)
        #expect(try Self.eventually { try f.history("flaky").contains { $0["result"] as? String == "restart" } }, "restarted when unhealthy")
        f.setUnhealthy(false)

        let history = try f.history("flaky")
        let restartIndex = try #require(history.firstIndex { $0["result"] as? String == "restart" })
        let before = history[..<restartIndex]
        let fails = before.suffix(2)
        #expect(fails.count == 2 && fails.allSatisfy { $0["result"] as? String == "fail" }, "the two failures in a row came first: \(history)")
        #expect(fails.last?["state"] as? String == "unhealthy")
        #expect((fails.last?["error"] as? String)?.contains("500") == true, "\(fails)")
        #expect((history[restartIndex]["message"] as? String)?.contains("unhealthy after 2 failed health checks") == true)

        // Healthy again: a passing check of the new run, and status agrees.
        #expect(try Self.eventually {
            let health = try f.health("flaky")
            return health["state"] as? String == "healthy" && (health["last_check"] as? [String: Any])?["result"] as? String == "ok"
        }, "healthy again after the restart")
        let health = try f.health("flaky")
        #expect((health["health_restarts"] as? Int ?? 0) >= 1)
        #expect(try LiveSystemd.show(uuid, "MainPID") != firstPID, "a new process runs")
        #expect(try LiveSystemd.show(uuid, "NRestarts") == "0", "not one of systemd's crash restarts")
        #expect(try Self.timerIsActive(uuid), "the restart did not lose the timer")
        let journal = try LiveSystemd.run("/usr/bin/journalctl", ["SVCUNIT_UUID=\(uuid)", "SVCUNIT_HEALTH=restart", "-o", "cat", "--no-pager"]).output
        #expect(journal.contains("restarted svcunit-\(uuid).service"), "a script can match the record: \(journal)")
    }

    /// Checks at the shortest interval, one second, all run: the timer paces them, and systemd's
    /// default start limit of the check unit (five starts in ten seconds) refused every other one
    /// before (`start-limit-hit` in the manager's log, a gap in the history).
    @Test func checksAtAOneSecondIntervalAreNotRefusedByTheStartLimit() throws {
        let f = try Fixture()
        defer { f.root.cleanUp() }
        let uuid = try f.create("steady", ["--health-interval", "1"])
        let start = try f.root.svcunit(arguments: ["start", "steady"])
        try #require(start.status == 0, "\(start.stderr)")  // the waits below would only time out
        let check = try UnitName(validating: "svcunit-health-\(uuid).service")
        // Twelve checks take twelve seconds or more: more than two of the limit's ten-second windows.
        #expect(try Self.eventually { try f.history("steady").count >= 12 }, "twelve checks")
        #expect(try LiveSystemd.systemctlShow(check, "StartLimitIntervalUSec") == "0")
        let refused = try LiveSystemd.journalctlLines(check).filter { $0.contains("start-limit-hit") || $0.contains("repeated too quickly") }
        #expect(refused.isEmpty, "the manager refused checks: \(refused)")
        #expect(try f.history("steady").allSatisfy { $0["result"] as? String == "ok" })
    }

    /// A TCP server that stays alive but stops accepting (it closes its listening socket while a file
    /// exists): the TCP check fails with the connection refused, and svcunit restarts it.
    @Test func aServiceThatStopsAcceptingIsRestarted() throws {
        let f = try Fixture()
        defer { f.root.cleanUp() }
        let script = f.root.path + "/listener.py"
        try Self.listener.write(toFile: script, atomically: true, encoding: .utf8)
        let run = try f.root.svcunit(arguments: ["create", "command", "--name", "deaf", "--protocol", "tcp", "--port", String(Self.randomFreePort()),
                                                 "--health-interval", "1",
                                                 "--unhealthy-after", "2", "--", "/usr/bin/python3", script, "{port}", f.flag])
        #expect(run.status == 0, "\(run.stderr)")
        let uuid = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try f.root.svcunit(arguments: ["start", "deaf"]).status == 0)
        let pid = try LiveSystemd.show(uuid, "MainPID")
        #expect(try Self.eventually { try f.history("deaf").contains { $0["result"] as? String == "ok" } })
        f.setUnhealthy(true)
        #expect(try Self.eventually { try f.history("deaf").contains { $0["result"] as? String == "restart" } }, "restarted")
        f.setUnhealthy(false)
        let fails = try f.history("deaf").filter { $0["result"] as? String == "fail" }
        #expect(fails.count >= 2)
        #expect(fails.allSatisfy { ($0["error"] as? String)?.isEmpty == false }, "\(fails)")
        #expect(try LiveSystemd.show(uuid, "MainPID") != pid)
        #expect(try Self.eventually { try f.health("deaf")["state"] as? String == "healthy" }, "healthy again")
    }

    /// A TCP server that closes its listening socket while the file `argv[2]` exists (and stays alive).
    static let listener = """
        import os, socket, sys, time
        port, flag = int(sys.argv[1]), sys.argv[2]
        server = None
        while True:
            if os.path.exists(flag):
                if server:
                    server.close()
                    server = None
                time.sleep(0.05)
                continue
            if server is None:
                server = socket.socket()
                server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                server.bind(("127.0.0.1", port))
                server.listen()
                server.settimeout(0.05)
            try:
                connection, _ = server.accept()
                connection.close()
            except socket.timeout:
                pass
        """

    /// `--on-unhealthy record`: reported unhealthy by status and list, never restarted.
    @Test func recordOnlyReportsUnhealthyAndNeverRestarts() throws {
        let f = try Fixture()
        defer { f.root.cleanUp() }
        let uuid = try f.create("watched", ["--health-interval", "1", "--unhealthy-after", "2", "--on-unhealthy", "record"])
        #expect(try f.root.svcunit(arguments: ["start", "watched"]).status == 0)
        let pid = try LiveSystemd.show(uuid, "MainPID")
        let invocation = try LiveSystemd.show(uuid, "InvocationID")
        f.setUnhealthy(true)
        #expect(try Self.eventually { try f.health("watched")["state"] as? String == "unhealthy" }, "reported unhealthy")
        // Many more failed checks than the threshold, still no restart.
        #expect(try Self.eventually { try f.history("watched").filter { $0["result"] as? String == "fail" }.count >= 6 })
        #expect(try f.history("watched").allSatisfy { $0["result"] as? String != "restart" })
        #expect(try LiveSystemd.show(uuid, "MainPID") == pid)
        #expect(try LiveSystemd.show(uuid, "InvocationID") == invocation)

        let status = try f.root.svcunit(arguments: ["status", "watched"])
        #expect(status.stdout.contains("health:          unhealthy"), "\(status.stdout)")
        let list = try f.root.svcunit(arguments: ["list"])
        let row = try #require(list.lines.first { $0.hasPrefix(uuid) }, "\(list.stdout)")
        #expect(row.contains(" unhealthy "), "list shows it unhealthy: \(row)")
        let json = try f.root.svcunit(arguments: ["list", "--json"]).array()
        #expect(json.first { $0["uuid"] as? String == uuid }?["health"] as? String == "unhealthy")

        // --since bounds the history by time (a unix time an hour ahead: nothing; the last hour: all).
        let later = try f.root.svcunit(arguments: ["health", "watched", "--json", "--since", String(Int(Date().timeIntervalSince1970) + 3600)])
        #expect(later.status == 0 && later.stdout.isEmpty, "\(later.stdout) \(later.stderr)")
        let lastHour = try f.root.svcunit(arguments: ["health", "watched", "--json", "-n", "1000", "--since", "-1h"])
        #expect(try lastHour.jsonLines().count >= 6)

        let human = try f.root.svcunit(arguments: ["health", "watched", "-n", "3"])
        #expect(human.status == 0)
        #expect(human.lines.count == 3 && human.lines.allSatisfy { $0.contains("fail") && $0.contains("(unhealthy)") }, "\(human.stdout)")
    }

    /// A healthy service is checked many times and never restarted.
    @Test func aHealthyServiceIsNeverRestarted() throws {
        let f = try Fixture()
        defer { f.root.cleanUp() }
        let uuid = try f.create("steady", ["--health-interval", "1", "--unhealthy-after", "3"])
        #expect(try f.root.svcunit(arguments: ["start", "steady"]).status == 0)
        let pid = try LiveSystemd.show(uuid, "MainPID")
        #expect(try Self.eventually(120) { try f.history("steady").filter { $0["result"] as? String == "ok" }.count >= 8 }, "many checks")
        // Never restarted. (Not "never a failed check": a probe can time out on a starved machine, and
        // that is not what this asserts.)
        let history = try f.history("steady")
        #expect(!history.contains { $0["result"] as? String == "restart" }, "\(history)")
        #expect(try LiveSystemd.show(uuid, "MainPID") == pid)
        #expect(try f.health("steady")["health_restarts"] as? Int == 0)
    }

    /// `stop`, a crash and `delete` leave no timer or check unit running or loaded; an automatic restart
    /// after a crash (Restart=on-failure) brings the timer back.
    @Test func nothingIsLeftBehind() throws {
        let f = try Fixture()
        defer { f.root.cleanUp() }
        let uuid = try f.create("crashy", ["--health-interval", "1", "--restart", "on-failure", "--restart-delay", "0.2"])
        #expect(try f.root.svcunit(arguments: ["start", "crashy"]).status == 0)
        #expect(try Self.timerIsActive(uuid))

        // A crash with an automatic restart: the timer is back once the service is.
        let pid = try LiveSystemd.show(uuid, "MainPID")
        _ = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "kill", "-s", "KILL", "svcunit-\(uuid).service"])
        #expect(try Self.eventually {
            try LiveSystemd.show(uuid, "NRestarts") == "1" && LiveSystemd.show(uuid, "ActiveState") == "active" && Self.timerState(uuid) == "active"
        }, "timer active again after the automatic restart")
        #expect(try LiveSystemd.show(uuid, "MainPID") != pid)

        let stop = try f.root.svcunit(arguments: ["stop", "crashy"])
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(try Self.eventually { try Self.healthUnits(uuid).isEmpty }, "stop: \((try? Self.healthUnits(uuid)) ?? [])")

        // A crash with no restart: the service fails; its timer stops at once and fires no more.
        #expect(try f.root.svcunit(arguments: ["set", "crashy", "--restart", "no"]).status == 0)
        #expect(try f.root.svcunit(arguments: ["start", "crashy"]).status == 0)
        #expect(try Self.timerIsActive(uuid))
        _ = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "kill", "-s", "KILL", "svcunit-\(uuid).service"])
        #expect(try Self.eventually { try LiveSystemd.show(uuid, "ActiveState") == "failed" })
        #expect(try Self.eventually { try Self.timerState(uuid) == "inactive" }, "the timer stops with the failed service")
        #expect(try Self.healthUnits(uuid).allSatisfy { $0.contains(" inactive ") }, "nothing runs: \((try? Self.healthUnits(uuid)) ?? [])")
        // What is still loaded goes with the failed unit (kept for `status` until it is reset).
        #expect(try f.root.svcunit(arguments: ["stop", "crashy"]).status == 0)
        #expect(try Self.eventually { try Self.healthUnits(uuid).isEmpty }, "after the failed unit is reset: \((try? Self.healthUnits(uuid)) ?? [])")

        // A start straight after a crash (the failed unit and its stopped timer still loaded) creates them anew.
        let again = try f.root.svcunit(arguments: ["start", "crashy"])
        #expect(again.status == 0, "\(again.stderr)")
        _ = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "kill", "-s", "KILL", "svcunit-\(uuid).service"])
        #expect(try Self.eventually { try LiveSystemd.show(uuid, "ActiveState") == "failed" })
        let restarted = try f.root.svcunit(arguments: ["start", "crashy"])
        #expect(restarted.status == 0, "\(restarted.stderr)")
        #expect(try Self.timerIsActive(uuid))

        // Delete of a running supervised service.
        let delete = try f.root.svcunit(arguments: ["delete", "crashy"])
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(try Self.eventually { try Self.healthUnits(uuid).isEmpty }, "delete: \((try? Self.healthUnits(uuid)) ?? [])")
        let all = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "list-units", "--all", "--plain", "--no-legend", "svcunit-*\(uuid)*"]).output
        #expect(all.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(all)")
    }
}

extension HealthSupervisionTests {
    /// An enabled service is supervised through the shipped templates, keeps its supervision across a
    /// `daemon-reexec` (the checks go on and still restart it when unhealthy), and `disable` leaves
    /// no timer or check behind.
    @Test func anEnabledServiceKeepsItsSupervisionAcrossADaemonReexec() async throws {
        try await ReloadGate.shared.withExclusive {
            let f = try Fixture()
            var uuid = ""
            // `disable` reloads the manager: it must happen inside the exclusive side of the gate.
            defer {
                if !uuid.isEmpty { _ = try? f.root.svcunit(arguments: ["disable", uuid]) }
                f.root.cleanUp()
            }
            uuid = try f.create("keeper", ["--health-interval", "1", "--unhealthy-after", "2"])
            let timer = try UnitName(validating: "svcunit-health@\(uuid).timer")
            let units = [timer.rawValue, "svcunit-health@\(uuid).service", "svcunit@\(uuid).service"]
            let enable = try f.root.svcunit(arguments: ["enable", "keeper", "--timeout", "30"])
            #expect(enable.status == 0, "\(enable.stderr)")
            let timerRuns = try Self.eventually { try LiveSystemd.systemctlShow(timer, "ActiveState") == "active" }
            // The template's check has no start limit either (see the transient check's test).
            #expect(try LiveSystemd.systemctlShow(try UnitName(validating: "svcunit-health@\(uuid).service"), "StartLimitIntervalUSec") == "0")
            #expect(timerRuns, "the template's timer runs")
            let checked = try timerRuns && Self.eventually { try f.history("keeper").contains { $0["result"] as? String == "ok" } }
            #expect(checked, "a first check passed")
            if !checked {
                // CI once spent 360 s on the waits that follow from this, and cut the first failure's
                // line out of its excerpt: the manager's account (printed last), and no more waits.
                LiveSystemd.recordDiagnostics("no health check after enable (exit \(enable.status): \(enable.stderr))", units: units)
                return
            }

            let reexec = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "daemon-reexec"])
            #expect(reexec.status == 0, "systemctl --user daemon-reexec")
            let afterReexec = try f.history("keeper").count
            let checksGoOn = try Self.eventually {
                try LiveSystemd.systemctlShow(timer, "ActiveState") == "active" && f.history("keeper").count >= afterReexec + 2
            }
            #expect(checksGoOn, "checks go on after the re-exec")
            if !checksGoOn {
                LiveSystemd.recordDiagnostics("health checks stalled after daemon-reexec (\(afterReexec) records before)", units: units)
                return
            }
            #expect(try f.health("keeper")["state"] as? String == "healthy")

            f.setUnhealthy(true)
            #expect(try Self.eventually { try f.history("keeper").contains { $0["result"] as? String == "restart" } }, "restarted when unhealthy")
            f.setUnhealthy(false)
            let restart = try #require(try f.history("keeper").last { $0["result"] as? String == "restart" })
            #expect(restart["unit"] as? String == "svcunit@\(uuid).service")
            #expect(try Self.eventually { try f.health("keeper")["state"] as? String == "healthy" }, "healthy again")
            #expect(try Self.eventually { try LiveSystemd.systemctlShow(timer, "ActiveState") == "active" })

            let disable = try f.root.svcunit(arguments: ["disable", "keeper", "--timeout", "30"])
            #expect(disable.status == 0, "\(disable.stderr)")
            uuid = disable.status == 0 ? "" : uuid
            let left = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "list-units", "--all", "--plain", "--no-legend", "svcunit-health@*"]).output
            #expect(!left.contains(" active "), "no timer or check runs after disable: \(left)")
        }
    }
}

extension HealthSupervisionTests {
    /// The transient timer and check are re-read from their transient unit files at a daemon-reload and
    /// kept across a daemon-reexec: the checks go on, and a crash restart after it still brings the timer back.
    @Test func aTransientServiceKeepsItsSupervisionAcrossAReloadAndADaemonReexec() async throws {
        try await ReloadGate.shared.withExclusive {
            let f = try Fixture()
            defer { f.root.cleanUp() }
            let uuid = try f.create("transient", ["--health-interval", "1", "--restart", "on-failure"])
            #expect(try f.root.svcunit(arguments: ["start", "transient"]).status == 0)
            #expect(try Self.eventually { try f.history("transient").contains { $0["result"] as? String == "ok" } })
            _ = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "daemon-reload"])
            _ = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "daemon-reexec"])
            let before = try f.history("transient").count
            #expect(try Self.eventually { try Self.timerState(uuid) == "active" && f.history("transient").count >= before + 2 },
                    "checks go on")
            _ = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "kill", "-s", "KILL", "svcunit-\(uuid).service"])
            #expect(try Self.eventually {
                try LiveSystemd.show(uuid, "NRestarts") == "1" && LiveSystemd.show(uuid, "ActiveState") == "active" && Self.timerState(uuid) == "active"
            }, "the timer comes back with the automatic restart")
        }
    }
}

extension TemporaryRoot {
    /// `svcunit ARGS --root <this root>` with the arguments as an array.
    func svcunit(arguments: [String]) throws -> Run {
        try Run.svcunit(["--root", path] + arguments)
    }
}
