import Foundation
import Synchronization
import SystemdTestSupport
import Testing

/// ZenML's own Python services under svcunit (issue 15), against the real zenml 0.98.0 from PyPI and
/// the real systemd user manager. Documents are written by ZenML's own code at test time for the
/// project's own classes (`python/svcunit_test_services.py`); `systemctl`, `journalctl`, /proc and
/// ZenML's own client are the witnesses.
@Suite("ZenML's Python services", .serialized, .enabled(if: ZenML.shouldRun, "needs a systemd user manager and zenml"))
struct ZenMLServiceTests {
    /// The whole path a ZenML user takes: register in place, start, healthy over HTTP, run()'s
    /// output in `svcunit logs` and the journal, the Python process as the unit's main process with
    /// ZenML's PID file, and a stop that stops.
    @Test func anHTTPServiceRunsUnderSystemdAndStops() throws {
        let store = try ZenMLStore()
        defer { store.cleanUp() }
        let (uuid, file, _) = try store.write("HttpDaemon", name: "web", "--http", "/health")
        #expect(file == "\(store.root)/\(uuid)/service.json", "ZenML's layout: <root_runtime_path>/<uuid>/service.json")

        let register = try store.register(file)
        #expect(register.status == 0, "\(register)")
        #expect(register.stdout == "\(uuid)\n")
        let registered = try store.document(uuid)
        #expect(registered["type"] as? String == "svcunit_test_services.HttpDaemon", "the class path is kept")
        #expect(registered["service_type"] == nil, "ZenML 0.98's shape: no service_type")
        let settings = try #require(registered["svcunit"] as? [String: Any], "registered in place: \(registered)")
        #expect(settings["python"] as? String == store.python, "the venv's interpreter, symlink not resolved")
        #expect(settings["workdir"] as? String == ZenML.scripts)
        #expect((settings["env"] as? [String: String])?["ZENML_CONFIG_PATH"] == store.config, "the caller's ZENML_* travel along")
        // No copy was made; the store's one file of its own is the script its units' ExecStopPost runs.
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.root).sorted() == [".record-exit.sh", uuid], "no copy was made")

        let start = try store.svcunit("start", uuid, "--timeout", "120")
        #expect(start.status == 0, "\(start)")
        #expect(start.stdout.hasPrefix("started \(uuid) (web) at http://"), "\(start)")

        let status = try store.status(uuid)
        #expect(status["state"] as? String == "active", "\(status)")
        #expect(status["class"] as? String == "svcunit_test_services.HttpDaemon")
        let endpoint = try #require(status["endpoint"] as? [String: Any], "\(status)")
        #expect(endpoint["healthy"] as? Bool == true, "\(status)")
        // svcunit's port policy chose the port and wrote it where run() reads it (endpoint.status.port).
        let port = try #require(endpoint["port"] as? Int, "\(status)")
        let written = try #require(try store.document(uuid)["endpoint"] as? [String: Any])
        #expect((written["status"] as? [String: Any])?["port"] as? Int == port)

        // The unit's main process is the user's Python interpreter running the class.
        let pid = try #require(Int(try LiveSystemd.show(uuid, "MainPID")))
        let argv = try #require(commandLine(pid))
        #expect(argv.first == store.python, "\(argv)")
        #expect(argv.contains(file), "\(argv)")
        #expect(try String(contentsOfFile: "\(store.root)/\(uuid)/service.pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines) == String(pid), "ZenML's PID file holds MainPID")
        let systemctlStatus = try LiveSystemd.run("/usr/bin/systemctl", ["--user", "status", "svcunit-\(uuid).service", "--no-pager"]).output
        #expect(systemctlStatus.contains(store.python), "\(systemctlStatus)")

        // run()'s output: in svcunit logs and in journalctl.
        let line = "HttpDaemon serving on port \(port)"
        #expect(try eventually { try store.svcunit("logs", uuid, "-n", "100").stdout.contains(line) }, "run()'s print in logs")
        let journal = try LiveSystemd.run("/usr/bin/journalctl", ["--user-unit", "svcunit-\(uuid).service", "-o", "cat", "--no-pager"]).output
        #expect(journal.contains(line), "journalctl --user-unit shows run()'s output: \(journal)")

        let stop = try store.svcunit("stop", uuid)
        #expect(stop.status == 0, "\(stop)")
        #expect(isGone(pid), "the Python process is gone when stop returns: \(processStat(pid) ?? "gone")")
        #expect(try LiveSystemd.reaches(uuid, "inactive"))
        #expect(!FileManager.default.fileExists(atPath: "\(store.root)/\(uuid)/service.pid"), "the stale PID file is removed")
        let after = try store.status(uuid)
        #expect(after["state"] as? String == "inactive", "\(after)")
        let lastRun = try #require(after["last_run"] as? [String: Any], "\(after)")
        #expect(lastRun["result"] as? String == "success", "a SIGTERM stop is a clean end: \(lastRun)")
    }

    /// Two `svcunit start`s of one ZenML service at once (its port chosen by svcunit's port policy):
    /// one unit, both succeed, and both, the document and `status` name the port `run()` listens on.
    /// A Python service's document is written before the unit is asked for and its runner reads it
    /// without the service's lock, so two different choices would leave one start probing a port
    /// nobody listens on; both choose the same port because a port claimed for the same service
    /// counts as free for it (`PortClaims`).
    @Test func twoStartsAtOnceAgreeOnThePortRunListensOn() throws {
        let store = try ZenMLStore()
        defer { store.cleanUp() }
        let (uuid, file, _) = try store.write("HttpDaemon", name: "twice", "--http", "/health")
        #expect(try store.register(file).status == 0)
        for round in 1...3 {
            let starts = Mutex<[Ran?]>([nil, nil])
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                let ran = try? store.svcunit("start", uuid, "--timeout", "60")
                starts.withLock { $0[i] = ran }
            }
            let ran = starts.withLock { $0 }.compactMap { $0 }
            try #require(ran.count == 2, "round \(round)")
            for start in ran { #expect(start.status == 0, "round \(round): \(start)") }
            let status = try store.status(uuid)
            let endpoint = try #require(status["endpoint"] as? [String: Any], "round \(round): \(status)")
            #expect(endpoint["healthy"] as? Bool == true, "round \(round): \(status)")
            let port = try #require(endpoint["port"] as? Int, "round \(round): \(status)")
            for start in ran where start.status == 0 {
                #expect(start.stdout.contains(":\(port)/"), "round \(round): both starts name the port run() listens on (\(port)): \(start)")
            }
            #expect(try eventually { try store.svcunit("logs", uuid, "-n", "100").stdout.contains("HttpDaemon serving on port \(port)") },
                    "round \(round): run() listens on the stored port \(port)")
            #expect(try store.svcunit("stop", uuid).status == 0)
        }
    }

    /// A TCP endpoint is healthy through the TCP monitor.
    @Test func aTCPServiceIsHealthy() throws {
        let store = try ZenMLStore()
        defer { store.cleanUp() }
        let (uuid, file, _) = try store.write("TcpDaemon", name: "tcp", "--tcp")
        #expect(try store.register(file).status == 0)
        let start = try store.svcunit("start", uuid, "--timeout", "120")
        #expect(start.status == 0, "\(start)")
        let endpoint = try #require(try store.status(uuid)["endpoint"] as? [String: Any])
        #expect(endpoint["healthy"] as? Bool == true)
        #expect(endpoint["protocol"] as? String == "tcp")
        let port = try #require(endpoint["port"] as? Int)
        #expect(try eventually { try store.svcunit("logs", uuid).stdout.contains("TcpDaemon listening on port \(port)") })
    }

    /// A user's class named `SleepingDaemon` runs *its* run(), not svcunit's built-in Swift sleeper.
    @Test func aUsersSleepingDaemonRunsItsOwnRun() throws {
        let store = try ZenMLStore()
        defer { store.cleanUp() }
        let (uuid, file, _) = try store.write("SleepingDaemon", name: "nap", "--no-endpoint")
        // inspect needs no Python and no store.
        let inspect = try ZenMLStore.run(ZenMLStore.svcunitBinary, ["inspect", file])
        #expect(inspect.status == 0, "\(inspect)")
        #expect(inspect.stdout.contains("svcunit_test_services.SleepingDaemon (Python"), "\(inspect)")
        #expect(try store.register(file).status == 0)
        let start = try store.svcunit("start", uuid, "--timeout", "120")
        #expect(start.status == 0, "\(start)")
        #expect(try eventually { try store.svcunit("logs", uuid).stdout.contains("test SleepingDaemon run() started") })
        let pid = try #require(Int(try LiveSystemd.show(uuid, "MainPID")))
        #expect(commandLine(pid)?.first == store.python)
    }

    /// run() raising fails `start` at once with the exception, not at the timeout.
    @Test func runRaisingFailsTheStartWithTheException() throws {
        let store = try ZenMLStore()
        defer { store.cleanUp() }
        let (uuid, file, _) = try store.write("FailingDaemon", name: "boom", "--no-endpoint")
        #expect(try store.register(file).status == 0)
        let start = try store.svcunit("start", uuid, "--timeout", "300")
        #expect(start.status == 1, "\(start)")
        #expect(start.stderr.contains("boom from FailingDaemon.run"), "the exception is in the error: \(start)")
        #expect(!start.stderr.contains("timed out"), "\(start)")
        let status = try store.status(uuid)
        #expect(status["state"] as? String == "error", "\(status)")
    }

    /// `_get_daemon_cmd()` overrides (as ZenML's own server has) add environment: register asks ZenML
    /// for it, keeps it in the document, and the service gets it.
    @Test func theEnvironmentOfGetDaemonCmdReachesTheService() throws {
        let store = try ZenMLStore()
        defer { store.cleanUp() }
        let (uuid, file, _) = try store.write("EnvDaemon", name: "env", "--http", "/health")
        #expect(try store.register(file).status == 0)
        let settings = try #require(try store.document(uuid)["svcunit"] as? [String: Any])
        #expect((settings["daemon_env"] as? [String: String])?["SVCUNIT_TEST_DAEMON_ENV"] == "from-get-daemon-cmd", "\(settings)")
        #expect(try store.svcunit("start", uuid, "--timeout", "120").status == 0)
        #expect(try eventually { try store.svcunit("logs", uuid).stdout.contains("from-get-daemon-cmd") })
        // The venv is active for the service, as in the user's shell: its bin/ comes first on PATH.
        let venvBin = URL(fileURLWithPath: store.python).deletingLastPathComponent().path
        #expect(try store.svcunit("logs", uuid, "-o", "cat").stdout.contains("EnvDaemon PATH starts with \(venvBin)"))
    }

    /// `enable` runs a Python service through the svcunit@ template: the entrypoint chooses the port
    /// and hands the process to the same runner, so the instance's main process is the interpreter.
    @Test func anEnabledPythonServiceRunsThroughTheTemplate() async throws {
        // enable and disable reload the user manager: exclusive, as every reloading test (ReloadGate).
        try await ReloadGate.shared.withExclusive { try self.enabledPythonServiceRunsThroughTheTemplate() }
    }

    private func enabledPythonServiceRunsThroughTheTemplate() throws {
        let store = try ZenMLStore()
        defer { store.cleanUp() }
        let (uuid, file, _) = try store.write("HttpDaemon", name: "persistent", "--http", "/health")
        #expect(try store.register(file).status == 0)
        let enable = try store.svcunit("enable", uuid, "--timeout", "120")
        #expect(enable.status == 0, "\(enable)")
        defer { _ = try? store.svcunit("disable", uuid, "--timeout", "60") }
        let instance = "svcunit@\(uuid).service"
        let pid = try #require(Int(try LiveSystemd.run("/usr/bin/systemctl", ["--user", "show", instance, "-p", "MainPID", "--value"])
            .output.trimmingCharacters(in: .whitespacesAndNewlines)), "\(instance) has a main process")
        #expect(commandLine(pid)?.first == store.python, "\(String(describing: commandLine(pid)))")
        #expect(try eventually {
            let status = try store.status(uuid)
            return (status["endpoint"] as? [String: Any])?["healthy"] as? Bool == true
        }, "the instance serves on the port the entrypoint chose")
        let disable = try store.svcunit("disable", uuid, "--timeout", "60")
        #expect(disable.status == 0, "\(disable)")
        #expect(isGone(pid), "\(processStat(pid) ?? "gone")")
    }

    /// ZenML's own client sees the service running (PID file + health) and its stop() ends the unit.
    @Test func zenMLsOwnClientSeesTheServiceAndStopsIt() throws {
        let store = try ZenMLStore()
        defer { store.cleanUp() }
        let (uuid, file, _) = try store.write("HttpDaemon", name: "shared", "--http", "/health")
        #expect(try store.register(file).status == 0)
        #expect(try store.svcunit("start", uuid, "--timeout", "120").status == 0)
        let pid = try #require(Int(try LiveSystemd.show(uuid, "MainPID")))
        let running = try store.script("zenml_client.py", "is-running", "--config-file", file)
        #expect(try running.object()["is_running"] as? Bool == true, "\(running)")
        let stop = try store.script("zenml_client.py", "stop", "--config-file", file, "--timeout", "60")
        #expect(stop.status == 0, "\(stop)")
        #expect(try stop.object()["stopped"] as? Bool == true, "\(stop)")
        #expect(isGone(pid), "\(processStat(pid) ?? "gone")")
        #expect(try eventually { try LiveSystemd.show(uuid, "ActiveState") == "inactive" }, "ZenML's stop() ended the unit")
        #expect(try store.status(uuid)["state"] as? String == "inactive")
    }

    /// A daemon ZenML itself started (and cannot stop) is taken over: killed, its PID file removed,
    /// and the service started under systemd on the same port.
    @Test func adoptingADaemonZenMLLeaked() throws {
        let store = try ZenMLStore()
        defer { store.cleanUp() }
        let (uuid, file, port) = try store.write("HttpDaemon", name: "leaked", "--http", "/health")
        let leak = try store.script("leak_zenml_daemon.py", "--config-file", file, "--timeout", "180")
        #expect(leak.status == 0, "\(leak)")
        let leaked = try #require(try leak.object()["pid"] as? Int, "\(leak)")
        #expect(commandLine(leaked)?.contains("zenml.services.local.local_daemon_entrypoint") == true)

        let adopt = try store.register(file, "--adopt", "--timeout", "120")
        #expect(adopt.status == 0, "\(adopt)")
        #expect(adopt.stdout.contains("stopped ZenML's daemon PID \(leaked)"), "\(adopt)")
        #expect(adopt.stdout.contains("SIGKILL"), "says it had to escalate: \(adopt)")
        #expect(isGone(leaked), "\(processStat(leaked) ?? "gone")")
        let status = try store.status(uuid)
        #expect(status["state"] as? String == "active", "\(status)")
        let endpoint = try #require(status["endpoint"] as? [String: Any])
        #expect(endpoint["port"] as? Int == port, "the same port: \(status)")
        #expect(endpoint["healthy"] as? Bool == true)
        let pid = try #require(Int(try LiveSystemd.show(uuid, "MainPID")))
        #expect(pid != leaked && commandLine(pid)?.first == store.python)
    }

    /// A PID file naming any other live process is never signalled.
    @Test func adoptNeverSignalsAProcessThatIsNotZenMLsDaemon() throws {
        let store = try ZenMLStore()
        defer { store.cleanUp() }
        let (uuid, file, _) = try store.write("HttpDaemon", name: "innocent", "--http", "/health")
        let bystander = Process()
        bystander.executableURL = URL(fileURLWithPath: "/bin/sleep")
        bystander.arguments = ["300"]
        // Not the test's own output: a survivor must not hold swift-test's pipe open.
        bystander.standardOutput = FileHandle.nullDevice
        bystander.standardError = FileHandle.nullDevice
        try bystander.run()
        defer { bystander.terminate() }
        try "\(bystander.processIdentifier)\n".write(toFile: "\(store.root)/\(uuid)/service.pid", atomically: true, encoding: .utf8)
        let before = try Data(contentsOf: URL(fileURLWithPath: file))
        let adopt = try store.register(file, "--adopt")
        #expect(adopt.status == 1, "\(adopt)")
        #expect(adopt.stderr.contains("refusing to signal PID \(bystander.processIdentifier)"), "\(adopt)")
        #expect(adopt.stderr.split(separator: "\n").count == 1, "one clear line: \(adopt)")
        #expect(bystander.isRunning)
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == before, "nothing was registered")
    }

    /// Register refuses what cannot run, with one line naming the interpreter, the directory and the
    /// module, and leaves the store as it was.
    @Test func registerRefusesWhatCannotRun() throws {
        let store = try ZenMLStore()
        defer { store.cleanUp() }
        let (_, file, _) = try store.write("HttpDaemon", name: "nope", "--http", "/health")
        let before = try Data(contentsOf: URL(fileURLWithPath: file))
        func expectRefused(_ ran: Ran, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(ran.status == 5, "\(ran)", sourceLocation: sourceLocation)
            #expect(ran.stderr.split(separator: "\n").count == 1, "one line: \(ran)", sourceLocation: sourceLocation)
            for fragment in fragments { #expect(ran.stderr.contains(fragment), "\(fragment): \(ran)", sourceLocation: sourceLocation) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == before, "store unchanged", sourceLocation: sourceLocation)
        }
        let elsewhere = FileManager.default.temporaryDirectory.path
        // The module is not importable from the working directory.
        try expectRefused(try ZenMLStore.run(ZenMLStore.svcunitBinary, ["--root", store.root, "register", file, "--python", store.python,
                                                                        "--workdir", elsewhere], environment: store.zenmlEnvironment),
                          ["svcunit_test_services", elsewhere, store.python, "--workdir"])
        // An interpreter without zenml.
        try expectRefused(try ZenMLStore.run(ZenMLStore.svcunitBinary, ["--root", store.root, "register", file, "--python", "/usr/bin/python3",
                                                                        "--workdir", ZenML.scripts], environment: store.zenmlEnvironment),
                          ["zenml is not installed", "/usr/bin/python3"])
        // No interpreter at all.
        try expectRefused(try store.svcunit("register", file, "--python", "/nonexistent/python"), ["/nonexistent/python"])

        // A class defined in a script run as __main__: refused before any Python runs.
        let (_, mainFile, _) = try store.write("HttpDaemon", name: "main", "--main-module")
        let main = try store.svcunit("register", mainFile, "--no-check")
        #expect(main.status == 5, "\(main)")
        #expect(main.stderr.contains("__main__.HttpDaemon") && main.stderr.contains("move the class into a module"), "\(main)")
    }
}
