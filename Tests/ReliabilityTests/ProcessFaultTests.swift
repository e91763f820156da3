import Foundation
import SystemdTestSupport
import Testing

/// Issue 8, case 1: the service's own process misbehaves. Every test runs the built `svcunit`
/// against the real user manager; `systemctl --user` and /proc are the witnesses.
@Suite("Process faults", .enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
struct ProcessFaultTests {
    /// `start --timeout 30` of a service that dies at once: exit 1 (a failure, not exit 4 for the
    /// timeout) with one error line that says how it ended, not that time ran out.
    func startFailsFast(_ store: Store, _ uuid: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Run {
        let start = try await store.svcunit("start", uuid, "--timeout", "30")
        #expect(start.status == 1, "\(start)", sourceLocation: sourceLocation)
        #expect(!start.stderr.contains("timed out"), "failed on the unit's end, not at the timeout: \(start)", sourceLocation: sourceLocation)
        expectOneErrorLine(start, sourceLocation: sourceLocation)
        return start
    }

    /// SIGKILL from outside: status turns to error naming the signal, ExecStopPost records the
    /// run, and a new start brings the service back with a new process.
    @Test func killedBySIGKILLIsAnErrorAndStartRecovers() async throws {
        try await timed { try await withStore { store in
            let m = marker()
            let uuid = try await store.create(["--name", "victim"], ["/bin/sleep", m])
            let start = try await store.svcunit("start", uuid)
            #expect(start.status == 0, "\(start)")
            let pid = try #require(await Witness.mainPID(uuid))
            #expect(Witness.commandLine(pid) == ["/bin/sleep", m], "the command is exec'd: it IS the main process")
            kill(pid, SIGKILL)

            var status: [String: Any] = [:]
            let recorded = try await waitUntil(.seconds(60)) {
                status = try await store.status(uuid)
                return status["state"] as? String == "error" && status["last_run"] is [String: Any]
            }
            #expect(recorded, "status after SIGKILL: \(status)")
            #expect((status["error"] as? String)?.contains("killed by signal KILL") == true, "\(status)")
            #expect(status["active_state"] as? String == "failed")
            let lastRun = try #require(status["last_run"] as? [String: Any])
            #expect(lastRun["exit"] as? String == "killed by signal KILL")
            #expect(lastRun["result"] as? String == "signal")
            #expect((lastRun["oom_kills"] as? Int ?? 0) == 0, "a kill -9 is not an out-of-memory kill: \(lastRun)")
            #expect((status["error"] as? String)?.contains("out-of-memory") == false, "\(status)")
            #expect(await Witness.show(uuid, "Result") == "signal")

            let again = try await store.svcunit("start", uuid)
            #expect(again.status == 0, "\(again)")
            let newPID = try #require(await Witness.mainPID(uuid))
            #expect(newPID != pid && newPID != 0)
            #expect(try await store.status(uuid)["state"] as? String == "active")
        } }
    }

    /// The process dies of SIGSEGV as it starts: `start` fails at once (not at the timeout) with
    /// exit 1 and one line naming the signal; status says the same.
    @Test func segfaultAtStartFailsFastNamingTheSignal() async throws {
        try await timed { try await withStore { store in
            let m = marker()
            // A TCP endpoint nobody opens: `start` waits for health, so only the crash can end the wait
            // early. Without a monitor, `start` trusts a 300 ms grace after READY=1, which a loaded
            // machine can spend before /bin/sh even runs (seen with this suite's 6 parallel runs).
            let uuid = try await store.create(["--name", "segv", "--protocol", "tcp", "--port", String(freePort())],
                                              ["/bin/sh", "-c", "kill -SEGV $$", m])
            let start = try await startFailsFast(store, uuid)
            #expect(start.stderr.contains("SEGV"), "\(start)")
            var status: [String: Any] = [:]
            let settled = try await waitUntil(.seconds(60)) {
                status = try await store.status(uuid)
                return (status["last_run"] as? [String: Any])?["exit"] != nil
            }
            #expect(settled, "\(status)")
            #expect(status["state"] as? String == "error")
            #expect((status["error"] as? String)?.contains("SEGV") == true, "\(status)")
            #expect(((status["last_run"] as? [String: Any])?["exit"] as? String)?.contains("SEGV") == true, "\(status)")
            #expect(["signal", "core-dump"].contains(await Witness.show(uuid, "Result")))
        } }
    }

    /// A non-zero exit at start: exit 1 within seconds, the exit status and the process's last
    /// output in the one error line.
    @Test func nonZeroExitAtStartFailsFastWithStatusAndOutput() async throws {
        try await timed { try await withStore { store in
            let word = "boom-\(UInt32.random(in: 0 ... .max))"
            let uuid = try await store.create(["--name", "exit3", "--protocol", "tcp", "--port", String(freePort())],
                                              ["/bin/sh", "-c", "echo \(word) >&2; exit 3"])
            let start = try await startFailsFast(store, uuid)
            #expect(start.stderr.contains("exited with status 3"), "\(start)")
            #expect(start.stderr.contains(word), "the last output is in the error: \(start)")
            #expect(await Witness.show(uuid, "ExecMainStatus") == "3")
        } }
    }

    /// The process runs but never becomes healthy: `start --timeout 10` gives up at the deadline
    /// with exit 4 and an error that names the timeout and the endpoint's last error.
    @Test func hangingStartTimesOutWithExit4() async throws {
        try await timed { try await withStore { store in
            let m = marker()
            let uuid = try await store.create(["--name", "hang", "--port", String(freePort()), "--health-path", "/health"],
                                              ["/bin/sleep", m])
            let started = ContinuousClock.now
            // 10 s, not 2: on a loaded machine the unit must have become active (so the probe is what
            // fails) well before the timeout.
            let start = try await store.svcunit("start", uuid, "--timeout", "10")
            let took = ContinuousClock.now - started
            #expect(start.status == 4, "\(start)")
            expectOneErrorLine(start)
            #expect(start.stderr.contains("timed out after 10 s"), "\(start)")
            #expect(start.stderr.contains("connection refused"), "names why it is not healthy: \(start)")
            #expect(took >= .seconds(10), "waited out the timeout: \(took)")
            // The store still says what happened.
            let document = try store.document(uuid)
            #expect(document["admin_state"] as? String == "active")
        } }
    }

    /// A process that ignores SIGTERM: `stop` escalates to SIGKILL after `--stop-timeout 1` and
    /// succeeds; the run is recorded as killed by SIGKILL.
    @Test func ignoringSIGTERMIsKilledAfterTheStopTimeout() async throws {
        try await timed { try await withStore { store in
            let m = marker()
            let uuid = try await store.create(
                ["--name", "stubborn", "--stop-timeout", "1"],
                ["/usr/bin/python3", "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)", m])
            #expect(try await store.svcunit("start", uuid).status == 0)
            let pid = try #require(await Witness.mainPID(uuid))
            #expect(await waitUntil(.seconds(60)) { Witness.ignores(pid, SIGTERM) }, "python installed SIG_IGN")

            let started = ContinuousClock.now
            let stop = try await store.svcunit("stop", uuid, "--timeout", "20")
            let took = ContinuousClock.now - started
            #expect(stop.status == 0, "\(stop)")
            #expect(took >= .milliseconds(900), "waited the 1 s stop timeout before SIGKILL: \(took)")
            #expect(Witness.processes(m).isEmpty)
            let status = try await store.status(uuid)
            #expect(status["state"] as? String == "inactive", "\(status)")
            let lastRun = try #require(status["last_run"] as? [String: Any], "\(status)")
            #expect(lastRun["exit"] as? String == "killed by signal KILL", "\(lastRun)")
            #expect(lastRun["result"] as? String == "timeout", "\(lastRun)")
        } }
    }

    /// A service that forks (background children, a setsid'd grandchild, a double fork): every
    /// one of its processes is gone after `stop`.
    @Test func forkedChildrenAreStoppedWithTheUnit() async throws {
        try await timed { try await withStore { store in
            let m = marker()
            let script = "/bin/sleep \(m) & /bin/sleep \(m) & /usr/bin/setsid /bin/sleep \(m) & (/bin/sleep \(m) &) ; exec /bin/sleep \(m)"
            let uuid = try await store.create(["--name", "forker"], ["/bin/sh", "-c", script])
            #expect(try await store.svcunit("start", uuid).status == 0)
            var pids: [Int32] = []
            // 5 sleeps plus the `sh -c` word itself before its exec (it carries the marker in its script).
            #expect(await waitUntil(.seconds(60)) { pids = Witness.processes(m).filter { Witness.commandLine($0).first == "/bin/sleep" }; return pids.count == 5 },
                    "five sleeps: \(pids)")
            let cgroup = await Witness.show(uuid, "ControlGroup")
            #expect(cgroup.hasSuffix("/svcunit-\(uuid).service"))

            let stop = try await store.svcunit("stop", uuid)
            #expect(stop.status == 0, "\(stop)")
            #expect(Witness.processes(m).isEmpty, "survivors: \(Witness.processes(m).map(Witness.commandLine))")
            // Z: a zombie not yet reaped; X: being reaped at this very moment.
            for pid in pids { #expect(kill(pid, 0) != 0 || ["Z", "X"].contains(Witness.processState(pid)), "pid \(pid) survived: \(Witness.processState(pid) ?? "gone")") }
            // `stop` returns once every process is gone; systemd's own clean-up (ExecStopPost) may
            // keep the unit loaded a few milliseconds longer.
            #expect(await waitUntil(.seconds(30)) { await Witness.units(uuid).isEmpty }, "unit unloaded after stop")
        } }
    }

    /// A crash loop under `--restart always`: status shows it restarting with a growing count;
    /// once systemd's start limit stops the loop, status says so ("start limit") and keeps the count.
    @Test func crashLoopShowsRestartsThenTheStartLimit() async throws {
        try await timed { try await withStore { store in
            let m = marker()
            // A TCP endpoint nobody opens, so `start` waits on health and only the crash ends it (see
            // segfaultAtStartFailsFastNamingTheSignal; without a monitor, a loaded machine can spend
            // start's 300 ms grace before the 0.1 s sleep is over).
            let uuid = try await store.create(["--name", "loop", "--restart", "always", "--restart-delay", "1.5",
                                               "--protocol", "tcp", "--port", String(freePort())],
                                              ["/bin/sh", "-c", "sleep 0.1; exit 1", m])
            // The start runs while status is polled: however long it takes to give up (its first
            // crash, or the start limit on a loaded machine), the restart windows are watched.
            let starting = try store.spawn("start", uuid, "--timeout", "60")

            // Poll until systemd gives up; remember what status said while it was restarting.
            var status: [String: Any] = [:]
            var restarting: [[String: Any]] = []
            let gaveUp = try await waitUntil(.seconds(120), every: .milliseconds(20)) {
                status = try await store.status(uuid)
                if status["sub_state"] as? String == "auto-restart" { restarting.append(status) }
                return status["active_state"] as? String == "failed"
            }
            let start = await starting.wait()
            #expect(start.status == 1, "a crash-looping service does not count as started: \(start)")
            expectOneErrorLine(start)
            let counts = restarting.compactMap { $0["restarts"] as? Int }
            #expect(restarting.contains { $0["state"] as? String == "error" }, "status was seen as error during a restart")
            // Each restart window is only --restart-delay long, and on a loaded machine one status run
            // can take longer than that: the samples may catch one window only. The count must never
            // go back, and the final count (>= 4, below) is at least every count seen on the way.
            let final = status["restarts"] as? Int ?? -1
            #expect(!counts.isEmpty && counts == counts.sorted() && counts.allSatisfy { $0 <= final },
                    "the restart count grows: \(counts), then \(final)")
            // The state comes from a first read of the unit: while ExecStopPost records the run it is
            // deactivating (pending_shutdown); otherwise an auto-restart reads as error (finding F7).
            for seen in restarting where seen["state"] as? String != "pending_shutdown" {
                #expect(seen["state"] as? String == "error", "\(seen)")
                let error = seen["error"] as? String ?? ""
                // The message and the fields come from one read of the unit, so they agree even at a
                // restart boundary (finding F7, fixed).
                let n = seen["restarts"] as? Int ?? -1
                #expect(error.contains("restarting after failure (\(n) restart"), "\(error) vs restarts \(n)")
                #expect(error.contains("exited with status 1"), "\(error)")
            }
            #expect(gaveUp, "systemd stops restarting at its start limit: \(status)")
            #expect(status["state"] as? String == "error")
            #expect((status["restarts"] as? Int ?? 0) >= 4, "the count survives: \(status)")
            #expect(await Witness.show(uuid, "NRestarts") == String(status["restarts"] as? Int ?? -1))
            let text = try await store.svcunit("status", uuid)
            #expect(text.stdout.contains("restarts:"), "\(text)")
            #expect((status["error"] as? String)?.contains("start limit") == true, "\(status)")
        } }
    }

    /// A service over its `--memory-max` is killed by the kernel and status says "out-of-memory".
    /// With the memory controller delegated to the user manager (cgroup v2 as on Debian 12, or a v1
    /// memory hierarchy as `scripts/systemd-sandbox` sets up on hybrid hosts) the kill happens; on v1
    /// systemd only reports `Result=signal`, so the run record's kernel OOM counter must tell. Where
    /// no memory controller serves the unit, the limit cannot be enforced and status stays truthful.
    @Test func memoryMaxIsSetAndEnforcedWhereTheKernelAllows() async throws {
        try await timed { try await withStore { store in
            let m = marker()
            let program = "import time; b = bytearray(96 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); time.sleep(300)"
            let uuid = try await store.create(["--name", "hog", "--memory-max", "32M"], ["/usr/bin/python3", "-c", program, m])
            let before = Snapshot(store.path)
            let start = try await store.svcunit("start", uuid, "--timeout", "60")
            #expect(await Witness.show(uuid, "MemoryMax") == String(32 << 20), "the limit reaches the unit")
            let cgroup = await Witness.show(uuid, "ControlGroup")
            // cgroup v2 (memory.max; systemd itself reports oom-kill) or a v1 memory hierarchy delegated
            // to the user manager (memory.limit_in_bytes; systemd says "signal", svcunit's run record tells).
            // The unit's own cgroup may be gone already (the hog is killed within moments of its
            // start; seen in a full run): the manager's cgroup says which controller serves its units.
            let hierarchy = await Witness.memoryHierarchyOfUserUnits()
            let v2 = hierarchy.v2 || ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].contains {
                FileManager.default.fileExists(atPath: "\($0)\(cgroup)/memory.max")
            }
            let v1 = hierarchy.v1 || FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory\(cgroup)/memory.limit_in_bytes")
            if ProcessInfo.processInfo.environment["SVCUNIT_SANDBOX"] == "1",
               FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/cgroup.procs") {
                #expect(v1 || v2, "scripts/systemd-sandbox delegates the v1 memory controller to its manager")
                #expect(await Witness.memoryControllerServesUserUnits())
            }
            if v2 || v1 {
                if start.status != 0 {
                    expectOneErrorLine(start)
                    #expect(start.stderr.contains("out-of-memory"), "\(start)")
                }
                var status: [String: Any] = [:]
                let killed = try await waitUntil(.seconds(60)) {
                    status = try await store.status(uuid)
                    return status["active_state"] as? String == "failed" && status["last_run"] is [String: Any]
                }
                #expect(killed, "\(start) \(status)")
                #expect(await Witness.show(uuid, "Result") == (v2 ? "oom-kill" : "signal"))
                #expect(status["state"] as? String == "error")
                #expect((status["error"] as? String)?.contains("out-of-memory") == true, "\(status)")
                let lastRun = try #require(status["last_run"] as? [String: Any])
                #expect(lastRun["result"] as? String == "oom-kill" || (lastRun["oom_kills"] as? Int ?? 0) >= 1, "\(lastRun)")
                let invocation = await Witness.show(uuid, "InvocationID")
                #expect(lastRun["invocation_id"] as? String == invocation)
                #expect(Witness.processes(m).isEmpty, "the hog is gone")
                // Nothing lost: the document still loads and keeps its configuration.
                let inspect = try await CLI.run(["inspect", store.file(uuid), "--json"])
                #expect(inspect.status == 0, "\(inspect)")
                #expect(inspect.stdout.contains("\"memory_max\": 33554432"), "\(inspect)")
                #expect(Snapshot(store.path).entries.keys.sorted() == before.entries.keys.sorted(), "no file appeared or vanished")
            } else {
                // Limitation (documented in RELIABILITY.md): no memory controller for the unit's cgroup,
                // so the kernel cannot enforce the limit; the service keeps running and status says so
                // truthfully (active), never an invented OOM.
                #expect(start.status == 0, "\(start)")
                let status = try await store.status(uuid)
                #expect(status["state"] as? String == "active", "\(status)")
            }
        } }
    }
    /// One OOM kill, then an auto-restart, then a plain `kill -9`: the second run's record must not
    /// inherit the first run's OOM count (systemd 252 gives each run a fresh cgroup). Runs only where
    /// a memory controller serves user units.
    @Test func anOOMKillDoesNotColourTheNextRunsEnd() async throws {
        try await timed { try await withStore { store in
            let m = marker()
            let flag = "\(CLI.scratch)/oom-once-\(m)"
            defer { try? FileManager.default.removeItem(atPath: flag) }
            let hog = "b = bytearray(96 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"
            let script = "if [ -e \"$1\" ]; then exec sleep \"$2\"; else touch \"$1\"; exec /usr/bin/python3 -c \"$3\"; fi"
            let uuid = try await store.create(["--name", "oom-then-kill", "--memory-max", "32M", "--restart", "on-failure",
                                               "--restart-delay", "0.2"],
                                              ["/bin/sh", "-c", script, "sh", flag, m, hog])
            guard await Witness.memoryControllerServesUserUnits() else { return }
            _ = try await store.svcunit("start", uuid, "--timeout", "60")

            // First run: OOM-killed; systemd restarts it, the second run sleeps.
            var status: [String: Any] = [:]
            let second = try await waitUntil(.seconds(60)) {
                status = try await store.status(uuid)
                return status["state"] as? String == "active" && (status["restarts"] as? Int ?? 0) >= 1
                    && status["last_run"] is [String: Any] && !Witness.processes(m).isEmpty
            }
            #expect(second, "\(status)")
            let first = try #require(status["last_run"] as? [String: Any], "\(status)")
            #expect((first["oom_kills"] as? Int ?? 0) >= 1 || first["result"] as? String == "oom-kill", "\(first)")

            // Second run: killed from outside. Its record names the signal, not the memory.
            let pid = try #require(await Witness.mainPID(uuid))
            kill(pid, SIGKILL)
            let recorded = try await waitUntil(.seconds(60)) {
                status = try await store.status(uuid)
                let run = status["last_run"] as? [String: Any]
                return run?["invocation_id"] as? String != first["invocation_id"] as? String && run?["exit"] as? String == "killed by signal KILL"
            }
            #expect(recorded, "\(status)")
            let last = try #require(status["last_run"] as? [String: Any])
            #expect(last["result"] as? String == "signal", "\(last)")
            #expect((last["oom_kills"] as? Int ?? 0) == 0, "the first run's OOM kill leaked into the second run's record: \(last)")
            #expect((status["error"] as? String)?.contains("out-of-memory") != true, "\(status)")
        } }
    }
}
