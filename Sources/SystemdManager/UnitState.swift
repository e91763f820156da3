/// A unit's high-level state, as systemd reports it in `ActiveState`.
///
/// Not obvious: a service waiting to restart shows `activating` (its `SubState` is `auto-restart`), so
/// "activating" does not always mean "a start job is running".
/// The corresponding D-Bus property is `ActiveState`.
public enum ActiveState: String, Sendable, Hashable, CaseIterable {
    case active, reloading, inactive, failed, activating, deactivating, maintenance

    /// True for `inactive` and `failed`: nothing of the unit runs.
    public var isFinal: Bool { self == .inactive || self == .failed }
}

/// Whether systemd found and parsed the unit. The corresponding D-Bus property is `LoadState`.
public enum LoadState: String, Sendable, Hashable {
    case stub, loaded, notFound = "not-found", badSetting = "bad-setting", error, merged, masked
}

/// How a service's last run ended, as systemd classifies it. The D-Bus property is `Result`
/// (on `org.freedesktop.systemd1.Service`).
public enum ServiceResult: String, Sendable, Hashable {
    case success, resources, `protocol`, timeout, exitCode = "exit-code", signal, coreDump = "core-dump",
        watchdog, startLimitHit = "start-limit-hit", oomKill = "oom-kill", execCondition = "exec-condition"
}

/// How the main process ended (a `CLD_*` code). The D-Bus property is `ExecMainCode`.
public enum ExecMainCode: Int32, Sendable, Hashable {
    case none = 0, exited = 1, killed = 2, dumped = 3, trapped = 4, stopped = 5, continued = 6
}

/// How a queued job treats conflicting jobs. `StartTransientUnit`, `StopUnit` … take it as `mode`.
public enum JobMode: String, Sendable, Hashable {
    case replace, fail, isolate, ignoreDependencies = "ignore-dependencies",
        ignoreRequirements = "ignore-requirements", replaceIrreversibly = "replace-irreversibly", flush, triggering
}

/// The outcome carried by the `JobRemoved` signal.
///
/// Not obvious: for a process that exits at once the result is racy (`done` or `failed` for the same
/// run), so judge a service by its `ActiveState`/`Result`, not by this alone.
public struct JobResult: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let done = JobResult(rawValue: "done")
    public static let canceled = JobResult(rawValue: "canceled")
    public static let timeout = JobResult(rawValue: "timeout")
    public static let failed = JobResult(rawValue: "failed")
    public static let dependency = JobResult(rawValue: "dependency")
    public static let skipped = JobResult(rawValue: "skipped")
    /// `done` or `skipped`, which systemctl treats as success.
    public var isSuccess: Bool { self == .done || self == .skipped }
    public var description: String { rawValue }
}

/// Which processes `KillUnit` signals. The D-Bus argument is `whom`.
public enum KillTarget: String, Sendable, Hashable {
    case main, control, all
}

/// When systemd restarts a service. The corresponding unit setting is `Restart=`.
public enum UnitRestart: String, Sendable, Hashable, CaseIterable {
    case no, onSuccess = "on-success", onFailure = "on-failure", onAbnormal = "on-abnormal",
        onWatchdog = "on-watchdog", onAbort = "on-abort", always
}

/// Where a service's stdout/stderr goes. The unit settings are `StandardOutput=`/`StandardError=`.
public enum OutputTarget: String, Sendable, Hashable {
    case inherit, null, journal, kmsg, tty, journalAndConsole = "journal+console"
}

/// The service type. The unit setting is `Type=`.
public enum ServiceStartType: String, Sendable, Hashable {
    case simple, exec, forking, oneshot, dbus, notify, idle
}
