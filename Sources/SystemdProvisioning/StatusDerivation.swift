public import ServiceModel
public import SystemdManager

/// Turns what systemd reports about a unit into a ZenML service state and a reason a user can act on.
///
/// Pure and table-tested: no I/O. Not obvious: a service waiting to be restarted shows
/// `ActiveState=activating`, `SubState=auto-restart`; that is reported as `error` ("restarting…"),
/// not as a start in progress, so a crash loop is never mistaken for a slow start.
public enum StatusDerivation {
    /// - Parameters:
    ///   - unit: the unit's status, or nil when systemd has no such unit loaded.
    ///   - lastRun: the service's `status.last_run`; it counts only when it records the unit's current
    ///     invocation (then it adds what systemd cannot see, e.g. an out-of-memory kill on cgroup v1).
    public static func derive(_ unit: UnitStatus?, lastRun: LastRun? = nil) -> (state: ServiceState, reason: String) {
        let state = state(of: unit)
        guard let unit, unit.isLoaded else { return (state, notRunning) }
        switch state {
        case .active:
            if unit.nRestarts > 0 {
                return (state, "running again after \(unit.nRestarts) restart\(unit.nRestarts == 1 ? "" : "s")")
            }
            return (state, "")
        case .pendingStartup, .pendingShutdown:
            return (state, "")
        case .inactive where unit.jobID != 0:
            // systemd runs its job queue only when nothing else is pending: a busy manager can hold
            // a start job for seconds. Say so, instead of the timeout's bare "not running". (`Job`
            // names no type; on an inactive unit it is almost always a start.)
            return (state, "\(notRunning) yet: job \(unit.jobID) for its unit waits in the user manager's queue")
        case .inactive:
            return (state, notRunning)
        case .error where unit.activeState == .activating:
            let why = failureText(unit, lastRun: lastRun) ?? "it stopped"
            return (state, "restarting after failure (\(unit.nRestarts) restart\(unit.nRestarts == 1 ? "" : "s") so far): \(why)")
        case .error:
            let why = failureText(unit, lastRun: lastRun) ?? "result \(unit.result?.rawValue ?? "unknown")"
            // A unit that should have been restarted but stayed failed ran into systemd's start
            // limit: 252 reports the last run's Result (e.g. exit-code), not start-limit-hit.
            if unit.result != .startLimitHit, let restart = unit.restart, restart != .no, unit.nRestarts > 0 {
                return (state, "restarted \(unit.nRestarts) time\(unit.nRestarts == 1 ? "" : "s"), then systemd's start limit stopped it; last run \(why)")
            }
            return (state, why)
        }
    }

    /// Why a start failed whose run ended while it was starting (`exit` as `exitDescription` words):
    /// the exit itself, and for a clean exit what to do about it.
    public static func endedWhileStarting(exit: String?, otherwise: String) -> String {
        guard let exit else { return "it ended while starting (\(otherwise))" }
        return exit == "exited with status 0" ? foregroundText : exit
    }

    /// A program that exits 0 at once, or forks into the background and exits (a daemon), has ended
    /// its service: systemd stops what it left behind.
    public static let foregroundText = "exited with status 0 right after it started: a service must keep running in the foreground "
        + "(a program that forks into the background and exits ends its service; run it with its foreground option, e.g. --foreground or --no-daemon)"

    /// ZenML's reason for a service whose daemon does not run (kept in `status.last_error`).
    public static let notRunning = "service daemon is not running"

    /// The service state a unit's `ActiveState`/`SubState` mean: the one table every view uses
    /// (`status` with a full property read, `list` with one row of a batch listing). A unit that is
    /// not loaded (or no unit) is `inactive`.
    public static func state(of unit: (some UnitStateFacts)?) -> ServiceState {
        guard let unit, unit.isLoaded else { return .inactive }
        switch unit.activeState {
        case .active: return .active
        case .reloading: return .pendingStartup
        case .activating: return unit.subState == .autoRestart ? .error : .pendingStartup
        case .deactivating, .maintenance: return .pendingShutdown
        case .inactive: return .inactive
        case .failed: return .error
        }
    }

    /// Why the last run ended badly, in systemd's terms made readable; nil for a clean end.
    public static func failureText(_ unit: UnitStatus, lastRun: LastRun? = nil) -> String? {
        let exit = unit.exitDescription
        if let lastRun, lastRun.outOfMemory, let id = unit.invocationID, lastRun.invocationID == id,
           unit.result == .signal || unit.result == .oomKill || unit.result == .success || unit.result == nil {
            return LastRun.outOfMemoryText + (exit.map { ": \($0)" } ?? "")
        }
        switch unit.result {
        case .success?, nil:
            // During auto-restart Result may already be reset; the exit status still tells.
            return exit
        case .exitCode?: return exit ?? "exited with a failure status"
        case .signal?: return exit ?? "killed by a signal"
        case .coreDump?: return exit ?? "dumped core"
        case .timeout?: return "timed out" + (exit.map { " (\($0))" } ?? "")
        case .oomKill?: return LastRun.outOfMemoryText
        case .startLimitHit?:
            return "restarted too often: systemd's start limit was hit; fix the cause, then start it again"
        case .resources?:
            return "could not be started: the executable, working directory or another resource is missing"
        case .watchdog?: return "watchdog timeout"
        case .protocol?:
            // A notify unit whose program exited cleanly before it was ready: it did not stay up.
            if unit.execMainCode == .exited, unit.execMainStatus == 0 { return foregroundText }
            return "protocol error (it did not start the way its type says)"
        case .execCondition?: return "its start condition failed"
        }
    }
}
