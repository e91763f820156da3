import Foundation
public import SystemdManager

/// Finds the real systemd user manager for live tests, names test units uniquely, and runs the
/// independent witnesses (`systemctl`, `journalctl`). Not product code.
///
/// Not obvious: live tests must not skip silently on CI. `scripts/test` exports
/// `SVCUNIT_REQUIRE_SYSTEMD=1`; then `shouldRun` is true even without a manager, so the test runs and
/// fails with the connection error instead of being skipped.
public enum LiveSystemd {
    static let environment = ProcessInfo.processInfo.environment

    /// A user manager socket exists (direct or broker).
    public static var isReachable: Bool {
        guard let dir = environment["XDG_RUNTIME_DIR"], !dir.isEmpty else { return false }
        let fm = FileManager.default
        return fm.fileExists(atPath: dir + "/systemd/private") || fm.fileExists(atPath: dir + "/bus")
    }

    public static var isRequired: Bool { environment["SVCUNIT_REQUIRE_SYSTEMD"] == "1" }

    /// Use as `@Test(.enabled(if: LiveSystemd.shouldRun, "needs a systemd user manager"))`.
    public static var shouldRun: Bool { isReachable || isRequired }

    /// A connected manager client.
    public static func manager() async throws -> SystemdManager {
        try await SystemdManager.connectUser()
    }

    /// `svcunit-test-<label>-<random>.service`: unique across concurrent test runs on one machine,
    /// which share the cgroup tree.
    public static func uniqueUnit(_ label: String, type: String = "service") -> UnitName {
        let random = UInt64.random(in: 0 ..< UInt64.max)
        return try! UnitName(validating: "svcunit-test-\(label)-\(String(random, radix: 36)).\(type)")
    }

    /// Removes a test unit whatever its state: stop (if loaded) and reset-failed.
    public static func cleanUp(_ unit: UnitName, manager: SystemdManager) async {
        _ = try? await manager.killUnit(unit, whom: .all, signal: SIGKILL)
        _ = try? await manager.stopUnit(unit, mode: .replace)
        _ = try? await manager.resetFailedUnit(unit)
    }

    /// Runs `body` with `unit`, then removes the unit (`cleanUp`) whether `body` returned or threw,
    /// and returns only once that is done: the next test never meets a leftover of this one.
    public static func withTransientUnit<T>(_ unit: UnitName, manager: SystemdManager,
                                            _ body: () async throws -> T) async throws -> T {
        try await withCleanUp({ await cleanUp(unit, manager: manager) }, body)
    }

    /// Runs a witness command and returns its stdout (stderr is discarded).
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `systemctl --user show UNIT -p NAME --value`, the witness for a property.
    public static func systemctlShow(_ unit: UnitName, _ property: String) throws -> String {
        try run("/usr/bin/systemctl", ["--user", "show", unit.rawValue, "-p", property, "--value"])
            .output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether `svcunit-<uuid>.service` reaches ActiveState `state` within `seconds` (a timeout, not
    /// the behaviour under test). `svcunit stop` returns once the service's processes are gone;
    /// systemd's clean-up after the run (ExecStopPost) can keep the unit deactivating a few ms more.
    public static func reaches(_ uuid: String, _ state: String, within seconds: Double = 30) throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while true {
            if try show(uuid, "ActiveState") == state { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(20_000)
        }
    }

    /// `systemctl --user show svcunit-<uuid>.service -p NAME --value`: the witness for a service's unit.
    public static func show(_ uuid: String, _ property: String) throws -> String {
        try systemctlShow(try UnitName(validating: "svcunit-\(uuid).service"), property)
    }

    /// Message lines journalctl finds for the unit, through either of the two unit fields.
    public static func journalctlLines(_ unit: UnitName) throws -> [String] {
        let bySystemUnit = try run("/usr/bin/journalctl", ["-u", unit.rawValue, "-o", "cat", "--no-pager"]).output
        let byUserUnit = try run("/usr/bin/journalctl", ["--user-unit", unit.rawValue, "-o", "cat", "--no-pager"]).output
        let lines = (bySystemUnit + "\n" + byUserUnit).split(separator: "\n").map(String.init)
        return lines.filter { !$0.hasPrefix("-- ") }
    }

    /// `now + d`, for event waits in tests.
    public static func deadline(_ d: Duration) -> ContinuousClock.Instant { ContinuousClock.now.advanced(by: d) }

    /// Appends what the user manager says about `units` when a test's wait for them failed to
    /// `$SVCUNIT_TEST_DIAGNOSTICS`, which `scripts/test` prints after the failures: whether the
    /// manager answers, the units' status and last log lines, its job queue, the journal's last
    /// lines. For failures seen only in CI, whose sandbox journal is gone by the time anyone looks.
    /// Each witness is bounded (`timeout 10`), so a hung manager cannot hang the test on top.
    public static func recordDiagnostics(_ reason: String, units: [String]) {
        guard let file = environment["SVCUNIT_TEST_DIAGNOSTICS"], !file.isEmpty else { return }
        let script = #"""
        f=$1; reason=$2; shift 2
        {
          echo "=== $reason at $(date +%T.%N) (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
          echo "manager: $(timeout 10 systemctl --user is-system-running 2>&1)"
          timeout 10 systemctl --user status --no-pager --lines=8 -o short-precise "$@" 2>&1 | cut -c1-200 | sed 's/^/  /'
          echo "jobs:"; timeout 10 systemctl --user list-jobs --no-pager 2>&1 | head -n 12 | sed 's/^/  /'
          echo "journal (no kernel lines):"; timeout 10 journalctl -n 40 --no-pager -o short-precise _TRANSPORT=journal _TRANSPORT=stdout _TRANSPORT=syslog 2>&1 | cut -c1-200 | sed 's/^/  /'
        } >>"$f" 2>&1
        """#
        _ = try? run("/bin/bash", ["-c", script, "diagnose", file, reason] + units)
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs `body`, then awaits `cleanUp` whether `body` returned or threw. What `defer { Task { … } }`
/// cannot do: a detached task's teardown may still run (or never run) when the test has ended.
public func withCleanUp<T>(_ cleanUp: () async -> Void, _ body: () async throws -> T) async throws -> T {
    let result: T
    do { result = try await body() } catch {
        await cleanUp()
        throw error
    }
    await cleanUp()
    return result
}
