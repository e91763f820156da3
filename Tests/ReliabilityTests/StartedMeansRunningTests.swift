import Foundation
import SystemdTestSupport
import Testing

/// Issue 16, case 2: "started" means the service's own program runs, decided by facts, whatever the
/// machine's load. The timing cases run while every core is busy with processes the test starts and
/// stops itself (`CPULoad`); nothing asserts an upper bound on time.
@Suite("Started means running", .enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))
struct StartedMeansRunningTests {
    /// Ten services whose program does not exist, started together by ten `svcunit start`
    /// processes on a loaded machine: none says "started"; each fails with the exit status and the
    /// entrypoint's own line naming the missing program, and no unit stays active.
    @Test func missingProgramsNeverReadStartedUnderLoad() async throws {
        try await timed { try await withStore { store in
            var uuids: [String] = []
            for index in 0 ..< 10 {
                uuids.append(try await store.create(["--name", "missing\(index)"], ["/nonexistent/svcunit-\(marker())"]))
            }
            let runs = try await CPULoad.while {
                let spawned = try uuids.map { try store.spawn("start", $0, "--timeout", "120") }
                var runs: [Run] = []
                for process in spawned { runs.append(await process.wait()) }
                return runs
            }
            for (uuid, run) in zip(uuids, runs) {
                #expect(run.status == 1, "\(run)")
                #expect(!run.stdout.contains("started"), "\(run)")
                expectOneErrorLine(run)
                #expect(run.stderr.contains("failed to start: exited with status 70"), "\(run)")
                #expect(run.stderr.contains("cannot execute /nonexistent/"), "the entrypoint's own line: \(run)")
                #expect(await Witness.show(uuid, "ActiveState") != "active", "\(uuid)")
            }
        } }
    }

    /// A program that exits 0 at once, and one that daemonizes (its shell forks a child into the
    /// background and exits 0), on a loaded machine: the start fails, saying it exited with status 0
    /// and to stay in the foreground; the daemon's child does not survive (systemd stops it).
    ///
    /// Not obvious: "started" is decided by facts at one read after READY=1, never by a wall-clock
    /// grace (issue 16), and the daemonizing shell is alive for a moment after its exec (it waits on
    /// its subshell), longer under load. When that read lands in the moment, "started" was true when
    /// it was said (seen here once in about six runs, after this CLI got faster); then the run's end
    /// must still stop the child and show in `status`, which is what is checked for that outcome.
    @Test(arguments: ["true", "daemonizes"])
    func exitingAtOnceOrDaemonizingFailsSayingStayInTheForeground(_ kind: String) async throws {
        try await timed { try await withStore { store in
            let m = marker()
            let argv = kind == "true" ? ["/bin/true"] : ["/bin/sh", "-c", "(/bin/sleep \(m) &) ; exit 0"]
            let uuid = try await store.create(["--name", kind], argv)
            let run = try await CPULoad.while { try await store.svcunit("start", uuid, "--timeout", "120") }
            if kind == "daemonizes", run.status == 0 {
                #expect(run.stdout.contains("started"), "\(run)")
            } else {
                #expect(run.status == 1, "\(run)")
                expectOneErrorLine(run)
                #expect(run.stderr.contains("exited with status 0 right after it started"), "\(run)")
                #expect(run.stderr.contains("keep running in the foreground"), "says what to do: \(run)")
            }
            #expect(await waitUntil(.seconds(30)) { Witness.processes(m).isEmpty }, "the daemon's child is stopped with the unit")
            let status = try await store.status(uuid)
            #expect(status["state"] as? String != "active", "\(status)")
        } }
    }

    /// With a health monitor, a command that exits at once fails the start at once (exit 1 with its
    /// exit status), not at the end of `--timeout` (exit 4); the same for one that exits later, while
    /// the start is still waiting for the endpoint, with status 0 or not.
    @Test(arguments: [("/bin/true", "exited with status 0 right after it started", ""),
                      ("sleep 1; exit 0", "exited with status 0 right after it started", ""),
                      ("sleep 1; echo leaving-now; exit 4", "exited with status 4", "leaving-now")])
    func withAMonitorAnEndedRunFailsTheStartAtOnce(_ script: String, _ reason: String, _ output: String) async throws {
        try await timed { try await withStore { store in
            let argv = script.hasPrefix("/") ? [script] : ["/bin/sh", "-c", script]
            let uuid = try await store.create(["--name", "ends", "--port", String(freePort()), "--health-path", "/"], argv)
            let run = try await CPULoad.while { try await store.svcunit("start", uuid, "--timeout", "300") }
            #expect(run.status == 1, "a failure, not exit 4 at the timeout: \(run)")
            #expect(!run.stderr.contains("timed out"), "\(run)")
            expectOneErrorLine(run)
            #expect(run.stderr.contains(reason), "\(run)")
            if !output.isEmpty { #expect(run.stderr.contains("  " + output), "its own last output: \(run)") }
        } }
    }

    /// When `start` says "started" on a loaded machine, the command has been exec'd: the unit's main
    /// process already is the command (its /proc cmdline), and the unit says why it is ready.
    @Test func startedMeansTheCommandHasBeenExecd() async throws {
        try await timed { try await withStore { store in
            let m = marker()
            let uuid = try await store.create(["--name", "runs"], ["/bin/sleep", m])
            let run = try await CPULoad.while { try await store.svcunit("start", uuid, "--timeout", "120") }
            #expect(run.status == 0, "\(run)")
            let pid = try #require(await Witness.mainPID(uuid))
            #expect(Witness.commandLine(pid) == ["/bin/sleep", m], "exec'd before start returned")
            #expect(await Witness.show(uuid, "StatusText") == "running")
            #expect(await Witness.show(uuid, "ActiveState") == "active")
        } }
    }
}

/// Busy processes on every core (twice the core count), started for `body` and always stopped after
/// it. Each is `timeout 600 sh -c 'while :; do :; done'`, so even a killed test cannot leave one
/// spinning for long.
enum CPULoad {
    static func `while`<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let count = 2 * max(1, ProcessInfo.processInfo.activeProcessorCount)
        let word = "svcunit-busy-\(UInt32.random(in: 0 ... .max))"
        var busy: [Process] = []
        for _ in 0 ..< count {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            process.arguments = ["600", "/bin/sh", "-c", "while :; do :; done", word]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            busy.append(process)
        }
        defer {
            for process in busy { kill(process.processIdentifier, SIGTERM) }
            for pid in Witness.processes(word) { kill(pid, SIGKILL) }
        }
        return try await body()
    }
}
