import Foundation
import SystemdTestSupport
import Testing

/// End-to-end tests of the built binary against a real systemd user manager (run them inside
/// `scripts/systemd-sandbox`). Each test has its own store and deletes its services at the end;
/// `systemctl --user` is the independent witness.
@Suite("svcunit against systemd (built binary)", .serialized,
       .enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
struct LiveCommandTests {
    static let httpArgv = ["--", "/usr/bin/python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]

    @Test func logsFollowUntilTheUnitStops() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let created = try root.svcunit("create", "command", "--name", "batch", "--",
                                       "/bin/sh", "-c", "for i in 1 2 3; do echo step $i; sleep 0.2; done")
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try root.svcunit("start", "batch").status == 0)
        let follow = try root.svcunit("logs", "batch", "-f", "--until-stopped")
        #expect(follow.status == 0, "\(follow.stderr)")
        for step in ["step 1", "step 2", "step 3"] { #expect(follow.stdout.contains(step), "\(follow.stdout)") }
        let misuse = try root.svcunit("logs", "batch", "--until-stopped")
        #expect(misuse.status == 2)
        #expect(misuse.stderr.contains("--until-stopped goes with -f"))
    }

    @Test func startStatusStopOfACommand() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.createSleep("sleepy")
        let start = try root.svcunit("start", "sleepy")
        #expect(start.status == 0, "\(start.stderr)")
        #expect(start.stdout == "started \(uuid) (sleepy)\n")
        #expect(try LiveSystemd.show(uuid, "ActiveState") == "active")

        let again = try root.svcunit("start", String(uuid.prefix(8)))
        #expect(again.status == 0)
        #expect(again.stdout == "\(uuid) (sleepy) is already running\n")

        let status = try root.svcunit("status", "sleepy", "--json")
        #expect(status.status == 0, "\(status.stderr)")
        let o = try status.object()
        #expect(o["uuid"] as? String == uuid)
        #expect(o["name"] as? String == "sleepy")
        #expect(o["type"] as? String == "daemon")
        #expect(o["flavor"] as? String == "command")
        #expect(o["admin_state"] as? String == "active")
        #expect(o["state"] as? String == "active")
        #expect(o["unit"] as? String == "svcunit-\(uuid).service")
        #expect(o["active_state"] as? String == "active")
        #expect(o["sub_state"] as? String == "running")
        let pid = try #require(o["main_pid"] as? Int)
        #expect(String(pid) == (try LiveSystemd.show(uuid, "MainPID")))
        #expect(o["restarts"] as? Int == 0)
        #expect((o["uptime_seconds"] as? Double ?? (o["uptime_seconds"] as? Int).map(Double.init) ?? -1) >= 0)
        #expect((o["active_since"] as? String)?.hasSuffix("Z") == true)
        #expect(o["endpoint"] is NSNull)
        #expect(o["last_run"] is NSNull)
        #expect(o.keys.contains("memory_bytes"))
        let service = try #require(o["service"] as? [String: Any])
        #expect(service["uuid"] as? String == uuid)
        #expect(service["admin_state"] as? String == "active")

        let text = try root.svcunit("status", uuid)
        #expect(text.status == 0)
        #expect(text.stdout.contains("svcunit-\(uuid).service (active/running)\n"))
        #expect(text.lines.contains { $0.hasPrefix("main pid:") && $0.hasSuffix(" \(pid)") })
        #expect(text.stdout.contains("uptime:"))

        let stop = try root.svcunit("stop", "sleepy")
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(stop.stdout == "stopped \(uuid) (sleepy)\n")
        #expect(try LiveSystemd.reaches(uuid, "inactive"))
        let after = try root.svcunit("status", "sleepy", "--json").object()
        #expect(after["admin_state"] as? String == "inactive")
        #expect(after["state"] as? String == "inactive")
        #expect(after["main_pid"] is NSNull)
        #expect(after["uptime_seconds"] is NSNull)
        let lastRun = try #require(after["last_run"] as? [String: Any], "status.last_run is recorded by ExecStopPost")
        #expect(lastRun["unit"] as? String == "svcunit-\(uuid).service")
        #expect(lastRun["result"] is String)
        // Stopping a stopped service is fine.
        #expect(try root.svcunit("stop", uuid).status == 0)
    }

    @Test func httpServiceIsHealthyInStatusAndList() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let create = try Run.svcunit(["create", "command", "--root", root.path, "--name", "web", "--health-path", "/", "--protocol", "http"]
                                     + Self.httpArgv)
        #expect(create.status == 0, "\(create.stderr)")
        let uuid = create.stdout.trimmingCharacters(in: .newlines)
        let sleepy = try root.createSleep("idle")
        let start = try root.svcunit("start", "web", "--timeout", "30")
        #expect(start.status == 0, "\(start.stderr)")
        #expect(start.stdout.hasPrefix("started \(uuid) (web) at http://localhost:"))

        let status = try root.svcunit("status", "web", "--json").object()
        let endpoint = try #require(status["endpoint"] as? [String: Any])
        let uri = try #require(endpoint["uri"] as? String)
        #expect(uri.hasPrefix("http://localhost:"))
        #expect(endpoint["protocol"] as? String == "http")
        #expect(endpoint["state"] as? String == "active")
        #expect(endpoint["healthy"] as? Bool == true)
        #expect((endpoint["monitor"] as? String)?.hasPrefix("HTTP GET /") == true)
        #expect((endpoint["port"] as? Int).map { uri.hasSuffix(":\($0)/") } == true)

        let list = try root.svcunit("list", "--json")
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stderr == "")
        let rows = try list.array()
        #expect(rows.count == 2)
        let webRow = try #require(rows.first { $0["uuid"] as? String == uuid })
        #expect(webRow["name"] as? String == "web")
        #expect(webRow["state"] as? String == "active")
        #expect(webRow["active_state"] as? String == "active")
        #expect(webRow["sub_state"] as? String == "running")
        let rowEndpoint = try #require(webRow["endpoint"] as? [String: Any])
        #expect(rowEndpoint["uri"] as? String == uri)
        #expect(rowEndpoint["healthy"] as? Bool == true)
        let idleRow = try #require(rows.first { $0["uuid"] as? String == sleepy })
        #expect(idleRow["state"] as? String == "inactive")
        #expect(idleRow["active_state"] as? String == "inactive")

        let running = try root.svcunit("list", "--running", "--json").array()
        #expect(running.map { $0["uuid"] as? String } == [uuid])
        let table = try root.svcunit("list")
        #expect(table.stdout.contains("\(uri) healthy"))

        // The probes above reached the server, so its request log is in the journal.
        let logs = try root.svcunit("logs", "web", "--json", "--since", "-5m")
        #expect(logs.status == 0, "\(logs.stderr)")
        let entries = try logs.jsonLines()
        #expect(entries.contains { ($0["message"] as? String)?.contains("GET / HTTP/1.1") == true }, "\(logs.stdout)")
        for entry in entries {
            #expect(entry["time"] is String)
            #expect(entry["message"] is String)
            #expect(entry.keys.contains("priority"))
            #expect(entry.keys.contains("pid"))
        }
        let one = try root.svcunit("logs", "web", "-n", "1", "--json")
        #expect(try one.jsonLines().count == 1)
        let future = try root.svcunit("logs", "web", "--since", String(Int(Date().timeIntervalSince1970) + 3600))
        #expect(future.status == 0)
        #expect(future.stdout == "")
        let iso = try root.svcunit("logs", "web", "--since", "2000-01-01T00:00:00Z")
        #expect(iso.lines.count >= entries.count)

        let delete = try root.svcunit("delete", "web", "idle")
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(delete.stdout == "deleted \(uuid) (web)\ndeleted \(sleepy) (idle)\n")
        #expect(root.storedUUIDs.isEmpty)
        #expect(try LiveSystemd.show(uuid, "LoadState") == "not-found")
    }

    /// A failed start: the first line names the service (name, short UUID) and what happened; then
    /// the service's own last output (not the manager's lines), indented; then where to look.
    @Test func failedStartNamesTheServiceThenItsOwnOutputThenWhereToLook() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let create = try root.svcunit("create", "command", "--name", "bad", "--", "/bin/sh", "-c", "echo about to fail; exit 7")
        let uuid = create.stdout.trimmingCharacters(in: .newlines)
        let short = String(uuid.prefix(8))
        let start = try root.svcunit("start", "bad", "--timeout", "20")
        #expect(start.status == 1)
        #expect(start.stdout == "")
        #expect(start.errorLines == [
            "svcunit: error: bad (\(short)) failed to start: exited with status 7",
            "  about to fail",
            "  see: svcunit logs bad --root \(root.path)",
        ], "\(start.stderr)")
        for dump in ["CommandService[", "flavor: command", "Started ", "Main process exited", "last state"] {
            #expect(!start.stderr.contains(dump), "\(dump): \(start.stderr)")
        }

        // --json: the same facts as fields, in the per-service result.
        let json = try root.svcunit("start", "bad", "--timeout", "20", "--json")
        #expect(json.status == 1)
        #expect(json.errorLines.first == "svcunit: error: bad (\(short)) failed to start: exited with status 7", "stderr still says it for people")
        let result = try #require(try json.array().first)
        #expect(result["uuid"] as? String == uuid)
        #expect(result["ok"] as? Bool == false)
        let error = try #require(result["error"] as? [String: Any], "\(json.stdout)")
        #expect(error["message"] as? String == "bad (\(short)) failed to start: exited with status 7")
        #expect(error["exit_status"] as? Int == 1)
        #expect((error["service"] as? [String: Any])?["name"] as? String == "bad")
        #expect((error["service"] as? [String: Any])?["uuid"] as? String == uuid)
        #expect(error["operation"] as? String == "start")
        #expect(error["reason"] as? String == "exited with status 7")
        #expect(error["output"] as? [String] == ["about to fail"], "only this attempt's lines: \(error)")
        #expect(error["see"] as? String == "svcunit logs bad --root \(root.path)")

        let status = try root.svcunit("status", "bad", "--json").object()
        #expect(status["state"] as? String == "error")
        #expect(status["error"] as? String == "exited with status 7")
        let lastRun = try #require(status["last_run"] as? [String: Any])
        #expect(lastRun["result"] as? String == "exit-code")
        #expect(lastRun["exit"] as? String == "exited with status 7")

        let logs = try root.svcunit("logs", "bad")
        #expect(logs.stdout.contains("about to fail"))

        let delete = try root.svcunit("delete", "bad")
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(root.storedUUIDs.isEmpty)
    }

    @Test func unhealthyEndpointTimesOutWithExit4() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let create = try Run.svcunit(["create", "command", "--root", root.path, "--name", "sick", "--health-path", "/missing"] + Self.httpArgv)
        #expect(create.status == 0)
        let start = try root.svcunit("start", "sick", "--timeout", "2")
        #expect(start.status == 4, "\(start.stderr)")
        // The first line carries the facts; the lines below it are indented, the last says where to look.
        let first = try #require(start.errorLines.first)
        #expect(first.hasPrefix("svcunit: error: sick ("))
        #expect(first.contains("failed to start: timed out after 2 s"), "\(first)")
        #expect(first.contains("404"), "the last health error is named: \(first)")
        #expect(start.errorLines.dropFirst().allSatisfy { $0.hasPrefix("  ") }, "\(start.stderr)")
        #expect(start.errorLines.last == "  see: svcunit logs sick --root \(root.path)")
        let list = try root.svcunit("list", "--json").array()
        let endpoint = try #require(list.first?["endpoint"] as? [String: Any])
        #expect(endpoint["healthy"] as? Bool == false)
        #expect((endpoint["error"] as? String)?.isEmpty == false)
    }

    @Test func severalServicesStartStopAndRestartConcurrently() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuids = try ["a", "b", "c"].map { try root.createSleep($0) }
        let start = try root.svcunit("start", "a", "b", "c")
        #expect(start.status == 0, "\(start.stderr)")
        #expect(start.lines.count == 3)
        for (uuid, name) in zip(uuids, ["a", "b", "c"]) {
            #expect(start.stdout.contains("started \(uuid) (\(name))"))
            #expect(try LiveSystemd.show(uuid, "ActiveState") == "active")
        }
        let pidBefore = try LiveSystemd.show(uuids[0], "MainPID")
        let restart = try root.svcunit("restart", "a")
        #expect(restart.status == 0, "\(restart.stderr)")
        #expect(restart.stdout == "restarted \(uuids[0]) (a)\n")
        let pidAfter = try LiveSystemd.show(uuids[0], "MainPID")
        #expect(pidAfter != pidBefore && pidAfter != "0")

        let stop = try root.svcunit("stop", "a", "b", "--force")
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(try LiveSystemd.reaches(uuids[0], "inactive"))
        #expect(try LiveSystemd.show(uuids[2], "ActiveState") == "active")

        let delete = try root.svcunit("delete", "--force", uuids[0], uuids[1], uuids[2])
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(root.storedUUIDs.isEmpty)
        #expect(try LiveSystemd.show(uuids[2], "LoadState") == "not-found")
    }

    @Test func mixedOutcomesExitWithTheFirstFailure() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let good = try root.createSleep("good")
        let bad = try root.svcunit("create", "command", "--name", "bad", "--", "/bin/false").stdout.trimmingCharacters(in: .newlines)
        let start = try root.svcunit("start", "good", "bad")
        #expect(start.status == 1)
        #expect(start.stdout == "started \(good) (good)\n")
        // One error, for bad: its first line names it; the lines below are indented.
        #expect(start.errorLines.first == "svcunit: error: bad (\(bad.prefix(8))) failed to start: exited with status 1", "\(start.stderr)")
        #expect(start.errorLines.dropFirst().allSatisfy { $0.hasPrefix("  ") }, "\(start.stderr)")
        #expect(!start.stderr.contains("good"))
    }

    @Test func sleeperRunsAndItsLastRunIsRecorded() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let uuid = try root.svcunit("create", "sleeper", "--name", "nap", "--wake-up-after", "0.5").stdout.trimmingCharacters(in: .newlines)
        let start = try root.svcunit("start", "nap")
        #expect(start.status == 0, "\(start.stderr)")
        // Wait (bounded) for the sleeper to wake up and exit: the unit is garbage-collected.
        let deadline = Date().addingTimeInterval(10)
        while try LiveSystemd.show(uuid, "LoadState") == "loaded", Date() < deadline { usleep(50_000) }
        let status = try root.svcunit("status", "nap", "--json").object()
        #expect(status["active_state"] as? String == "inactive")
        let lastRun = try #require(status["last_run"] as? [String: Any])
        #expect(lastRun["result"] as? String == "success")
        let logs = try root.svcunit("logs", "nap")
        #expect(logs.stdout.contains("nap: sleeping for 0.5 s"))
        #expect(logs.stdout.contains("nap: woke up"))
    }

    @Test func logsFollowPrintsNewLinesAndStopsOnSIGINT() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let create = try root.svcunit("create", "command", "--name", "ticker", "--", "/bin/sh", "-c", "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.2; done")
        #expect(create.status == 0)
        #expect(try root.svcunit("start", "ticker").status == 0)
        let process = Process()
        process.executableURL = Run.binary
        process.arguments = ["logs", "ticker", "-f", "--json", "--root", root.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["NO_COLOR": "1"]) { _, n in n }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(1_500_000)
        kill(process.processIdentifier, SIGINT)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        let ticks = lines.filter { $0.contains("tick-") }
        #expect(ticks.count >= 3, "\(lines)")
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "\(line)")
        }
    }

    @Test func registeredZenMLDocumentStarts() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        // The fixture's sleeper has an HTTP endpoint nobody serves: register it without the endpoint.
        let text = try String(contentsOfFile: fixturePath("zenml-sleeper"), encoding: .utf8)
        var doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        doc["endpoint"] = NSNull()
        doc["uuid"] = UUID().uuidString.lowercased()
        var config = try #require(doc["config"] as? [String: Any])
        config["wake_up_after"] = 300
        doc["config"] = config
        let path = try temporaryFile(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let register = try root.svcunit("register", path)
        #expect(register.status == 0, "\(register.stderr)")
        let uuid = register.stdout.trimmingCharacters(in: .newlines)
        let start = try root.svcunit("start", uuid)
        #expect(start.status == 0, "\(start.stderr)")
        #expect(try LiveSystemd.show(uuid, "ActiveState") == "active")
    }

    /// A healthy service shows no error as current: not the endpoint probe that failed before the
    /// server listened, not "not running" from a status taken before the start.
    @Test func aHealthyServiceShowsNoStaleError() throws {
        let root = try TemporaryRoot()
        defer { root.cleanUp() }
        let create = try Run.svcunit(["create", "command", "--root", root.path, "--name", "slowweb", "--health-path", "/", "--",
                                      "/bin/sh", "-c", "sleep 0.5; exec /usr/bin/python3 -m http.server \"$0\" --bind 127.0.0.1", "{port}"])
        #expect(create.status == 0, "\(create.stderr)")
        let before = try root.svcunit("status", "slowweb", "--json").object()
        #expect(before["state"] as? String == "inactive")
        #expect(before["error"] is NSNull, "inactive is a state, not an error: \(before)")
        let start = try root.svcunit("start", "slowweb", "--timeout", "30")
        #expect(start.status == 0, "\(start.stderr)")

        let status = try root.svcunit("status", "slowweb", "--json").object()
        #expect(status["state"] as? String == "active")
        #expect(status["error"] is NSNull, "\(status)")
        let endpoint = try #require(status["endpoint"] as? [String: Any])
        #expect(endpoint["healthy"] as? Bool == true)
        #expect(endpoint["error"] is NSNull, "\(endpoint)")
        #expect(endpoint["last_error"] == nil, "the view says error (current), the document keeps last_error")
        let text = try root.svcunit("status", "slowweb")
        #expect(text.stdout.contains("healthy"), "\(text.stdout)")
        #expect(!text.lines.contains { $0.hasPrefix("error:") || $0.hasPrefix("last error:") }, "\(text.stdout)")
        #expect(!text.stdout.contains("not running"), "\(text.stdout)")
    }

    /// An enabled service runs as svcunit@<uuid>.service: every view reads it from that unit, with the
    /// same rules, and all of them say inactive again after `disable`.
    @Test func anEnabledServiceIsActiveAndHealthyEverywhereUntilDisabled() async throws {
        try await ReloadGate.shared.withExclusive {
            let root = try TemporaryRoot()
            var uuid = ""
            // `disable` reloads the manager: it must happen inside the exclusive side of the gate.
            defer {
                if !uuid.isEmpty { _ = try? root.svcunit("disable", uuid) }
                root.cleanUp()
            }
            let create = try Run.svcunit(["create", "command", "--root", root.path, "--name", "keeper", "--health-path", "/"] + Self.httpArgv)
            #expect(create.status == 0, "\(create.stderr)")
            uuid = create.stdout.trimmingCharacters(in: .newlines)
            let instance = "svcunit@\(uuid).service"
            let enable = try root.svcunit("enable", "keeper", "--timeout", "30")
            #expect(enable.status == 0, "\(enable.stderr)")
            #expect(try LiveSystemd.run("/usr/bin/systemctl", ["--user", "show", instance, "-p", "ActiveState", "--value"]).output
                .trimmingCharacters(in: .whitespacesAndNewlines) == "active")

            try Self.expectEverywhere(root, uuid, active: true, unit: instance)
            let again = try root.svcunit("start", "keeper")
            #expect(again.stdout.hasPrefix("\(uuid) (keeper) is already running"), "\(again.stdout) \(again.stderr)")

            let disable = try root.svcunit("disable", "keeper", "--timeout", "30")
            #expect(disable.status == 0, "\(disable.stderr)")
            try Self.expectEverywhere(root, uuid, active: false, unit: nil)
        }
    }

    /// `list` (table, --running, --json) and `status` (text, --json) agree on one service.
    static func expectEverywhere(_ root: TemporaryRoot, _ uuid: String, active: Bool, unit: String?,
                                 sourceLocation: SourceLocation = #_sourceLocation) throws {
        let state = active ? "active" : "inactive"
        let table = try root.svcunit("list")
        let row = try #require(table.lines.first { $0.hasPrefix(uuid) }, "\(table.stdout)", sourceLocation: sourceLocation)
        #expect(row.contains(" \(state) "), "\(row)", sourceLocation: sourceLocation)
        #expect(row.hasSuffix(" healthy") == active, "\(row)", sourceLocation: sourceLocation)

        let running = try root.svcunit("list", "--running")
        #expect(running.stdout.contains(uuid) == active, "\(running.stdout)", sourceLocation: sourceLocation)
        if !active { #expect(running.stdout == "no services\n", sourceLocation: sourceLocation) }

        let listed = try #require(try root.svcunit("list", "--json").array().first { $0["uuid"] as? String == uuid },
                                  sourceLocation: sourceLocation)
        #expect(listed["state"] as? String == state, "\(listed)", sourceLocation: sourceLocation)
        #expect(listed["active_state"] as? String == state, "\(listed)", sourceLocation: sourceLocation)
        if let unit { #expect(listed["unit"] as? String == unit, "\(listed)", sourceLocation: sourceLocation) }
        let listedEndpoint = try #require(listed["endpoint"] as? [String: Any], sourceLocation: sourceLocation)
        #expect((listedEndpoint["healthy"] as? Bool) == (active ? true : nil), "\(listed)", sourceLocation: sourceLocation)

        let status = try root.svcunit("status", uuid, "--json").object()
        #expect(status["state"] as? String == state, "\(status)", sourceLocation: sourceLocation)
        #expect(status["active_state"] as? String == state, "\(status)", sourceLocation: sourceLocation)
        #expect(status["error"] is NSNull, "\(status)", sourceLocation: sourceLocation)
        if let unit { #expect(status["unit"] as? String == unit, "\(status)", sourceLocation: sourceLocation) }
        let endpoint = try #require(status["endpoint"] as? [String: Any], sourceLocation: sourceLocation)
        #expect((endpoint["healthy"] as? Bool) == (active ? true : nil), "\(status)", sourceLocation: sourceLocation)

        let text = try root.svcunit("status", uuid)
        #expect(text.lines.contains { $0.hasPrefix("state:") && $0.contains(" \(state) ") }, "\(text.stdout)", sourceLocation: sourceLocation)
        if let unit { #expect(text.stdout.contains("\(unit) (active/running)"), "\(text.stdout)", sourceLocation: sourceLocation) }
        if active { #expect(text.stdout.contains(" healthy"), "\(text.stdout)", sourceLocation: sourceLocation) }
    }

}
