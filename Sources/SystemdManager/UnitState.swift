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

/// A unit's low-level state (`SubState`): `running`, `auto-restart`, `dead`, … Its values depend on
/// the unit type and grow with systemd versions, so it is an open set of validated words rather than
/// an enum; the values svcunit acts on are named constants.
public struct SubState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    /// nil unless `rawValue` is a systemd state word: lower-case letters, digits and `-`.
    public init?(rawValue: String) {
        guard !rawValue.isEmpty, rawValue.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else { return nil }
        self.rawValue = rawValue
    }

    private init(known: String) { rawValue = known }

    public static let dead = SubState(known: "dead")
    public static let running = SubState(known: "running")
    public static let exited = SubState(known: "exited")
    public static let failed = SubState(known: "failed")
    public static let start = SubState(known: "start")
    /// A service waiting out `RestartSec=` before systemd restarts it (its `ActiveState` is `activating`).
    public static let autoRestart = SubState(known: "auto-restart")
    /// A service whose main process has ended and whose `ExecStopPost=` commands run.
    public static let stopPost = SubState(known: "stop-post")

    public var description: String { rawValue }
}

/// Whether and how a unit file is enabled: the D-Bus property `UnitFileState` and the reply of
/// `GetUnitFileState` (systemctl's `is-enabled` words).
public enum UnitFileState: String, Sendable, Hashable, CaseIterable {
    case enabled, enabledRuntime = "enabled-runtime", linked, linkedRuntime = "linked-runtime", alias,
        masked, maskedRuntime = "masked-runtime", `static`, indirect, disabled, generated, transient, bad

    /// `enabled` or `enabled-runtime`: the unit is pulled in by its `[Install]` target.
    public var isEnabled: Bool { self == .enabled || self == .enabledRuntime }
}

/// The facts every view of a unit has, whether from a full property read (`UnitStatus`) or one row of
/// a batch listing (`UnitListEntry`): enough to tell which unit stands for a service and its state.
public protocol UnitStateFacts: Sendable {
    var unitName: String { get }
    /// Whether systemd knows the unit (a `not-found` stub is not loaded).
    var isLoaded: Bool { get }
    var activeState: ActiveState { get }
    var subState: SubState { get }
}
