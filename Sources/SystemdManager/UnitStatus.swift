public import SDBus

/// What systemd knows of one unit right now: the facts svcunit derives a service's state from.
///
/// Built from the `Unit` and `Service` interfaces' properties (`GetAll`) and kept current from
/// `PropertiesChanged`. Not obvious: a unit the manager no longer holds has no properties at all
/// (`SystemdManager.unitStatus` reads it as not loaded and `inactive`), not the last run's, so a
/// clean exit's `Result` must be caught from signals before the unit is garbage-collected.
public struct UnitStatus: UnitStateFacts, Hashable {
    public var name: UnitName
    public var loadState: LoadState?
    public var activeState: ActiveState
    /// Per unit type (`running`, `auto-restart`, `dead`, …); `dead` when systemd sends none.
    public var subState: SubState
    public var description: String?
    public var result: ServiceResult?
    /// 0 when no main process runs.
    public var mainPID: UInt32
    public var execMainCode: ExecMainCode?
    public var execMainStatus: Int32?
    public var execMainPID: UInt32?
    public var nRestarts: UInt32
    /// The service's `Restart=` policy.
    public var restart: UnitRestart?
    /// `UnitFileState`: `enabled`, `disabled`, `static`, … (nil for transient units, and for a word
    /// this version of svcunit does not know).
    public var unitFileState: UnitFileState?
    /// 32 lower-case hex digits, or nil when the unit never ran.
    public var invocationID: String?
    /// The job queued for the unit, if any (`Job` = `(0,"/")` means none).
    public var jobID: UInt32
    /// Realtime µs since the epoch; nil when systemd reports 0.
    public var activeEnterTimestamp: UInt64?
    public var inactiveEnterTimestamp: UInt64?
    public var inactiveExitTimestamp: UInt64?
    public var stateChangeTimestamp: UInt64?
    /// `MemoryCurrent` in bytes when accounting is on.
    public var memoryCurrent: UInt64?
    public var tasksCurrent: UInt64?
    /// `StatusText`: the last `STATUS=` the service sent with sd_notify.
    public var statusText: String?
    public var controlGroup: String?

    /// The properties as received, for callers that need more than the typed fields: from
    /// `SystemdManager.unitStatus`, those named in `propertyNames`; from a watch, also what its
    /// signals carried.
    public var properties: [String: BusValue]

    /// What a status read keeps of a unit's properties: the typed fields' and `ExecStart` and
    /// `Environment` (what a unit runs, for `UnitOwnership`).
    public static let propertyNames: Set<String> = [
        "LoadState", "ActiveState", "SubState", "Description", "Result", "MainPID", "ExecMainCode", "ExecMainStatus",
        "ExecMainPID", "NRestarts", "Restart", "UnitFileState", "InvocationID", "Job", "ActiveEnterTimestamp",
        "InactiveEnterTimestamp", "InactiveExitTimestamp", "StateChangeTimestamp", "MemoryCurrent", "TasksCurrent",
        "StatusText", "ControlGroup", "ExecStart", "Environment",
    ]

    /// Parses a merged property map (`Unit` + `Service` interfaces).
    public init(name: UnitName, properties: [String: BusValue]) {
        self.name = name
        self.properties = properties
        func str(_ k: String) -> String? { properties[k]?.stringValue }
        func int(_ k: String) -> Int64? { properties[k]?.integerValue }
        /// systemd uses UINT64_MAX for "not set" in counters and 0 in timestamps.
        func counter(_ k: String) -> UInt64? {
            guard let v = properties[k]?.uint64Value, v != .max else { return nil }
            return v
        }
        func stamp(_ k: String) -> UInt64? { counter(k).flatMap { $0 == 0 ? nil : $0 } }
        loadState = str("LoadState").flatMap(LoadState.init(rawValue:))
        activeState = str("ActiveState").flatMap(ActiveState.init(rawValue:)) ?? .inactive
        subState = str("SubState").flatMap(SubState.init(rawValue:)) ?? .dead
        description = str("Description")
        result = str("Result").flatMap(ServiceResult.init(rawValue:))
        mainPID = int("MainPID").flatMap { UInt32(exactly: $0) } ?? 0
        execMainCode = int("ExecMainCode").flatMap { Int32(exactly: $0) }.flatMap(ExecMainCode.init(rawValue:))
        execMainStatus = int("ExecMainStatus").flatMap { Int32(exactly: $0) }
        execMainPID = int("ExecMainPID").flatMap { UInt32(exactly: $0) }
        nRestarts = int("NRestarts").flatMap { UInt32(exactly: $0) } ?? 0
        restart = str("Restart").flatMap(UnitRestart.init(rawValue:))
        unitFileState = str("UnitFileState").flatMap(UnitFileState.init(rawValue:))
        if let bytes = properties["InvocationID"]?.bytesValue, bytes.count == 16 {
            invocationID = bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        } else {
            invocationID = nil
        }
        if let job = properties["Job"]?.structureValue, let id = job.first?.integerValue {
            jobID = UInt32(truncatingIfNeeded: id)
        } else {
            jobID = 0
        }
        activeEnterTimestamp = stamp("ActiveEnterTimestamp")
        inactiveEnterTimestamp = stamp("InactiveEnterTimestamp")
        inactiveExitTimestamp = stamp("InactiveExitTimestamp")
        stateChangeTimestamp = stamp("StateChangeTimestamp")
        memoryCurrent = counter("MemoryCurrent")
        tasksCurrent = counter("TasksCurrent")
        statusText = str("StatusText").flatMap { $0.isEmpty ? nil : $0 }
        controlGroup = str("ControlGroup").flatMap { $0.isEmpty ? nil : $0 }
    }

    /// True when the unit is `inactive` or `failed` and no job is pending: systemd-run's rule for
    /// "finished" (the first `PropertiesChanged` after a start may say `inactive` while a job runs).
    public var isFinished: Bool { activeState.isFinal && jobID == 0 }

    /// True once the unit has left `inactive` at least once (`InactiveExitTimestamp` is set). A watch
    /// taken before a start begins with a never-run stub that is also "finished"; this tells them apart.
    public var hasRun: Bool { inactiveExitTimestamp != nil }

    /// Whether a loaded unit is known at all (a `not-found` stub is not).
    public var isLoaded: Bool { loadState != nil && loadState != .notFound }

    public var unitName: String { name.rawValue }

    /// "exited with status 3", "killed by signal KILL", or nil when the main process has not ended.
    public var exitDescription: String? {
        guard let code = execMainCode, let status = execMainStatus else { return nil }
        switch code {
        case .exited: return "exited with status \(status)"
        case .killed: return "killed by signal \(signalName(status))"
        case .dumped: return "dumped core on signal \(signalName(status))"
        default: return nil
        }
    }
}

/// `SIGKILL` → `KILL`, as systemctl prints signals.
public func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
        1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE", 9: "KILL", 10: "USR1",
        11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM", 16: "STKFLT", 17: "CHLD", 18: "CONT",
        19: "STOP", 20: "TSTP", 21: "TTIN", 22: "TTOU", 23: "URG", 24: "XCPU", 25: "XFSZ", 26: "VTALRM",
        27: "PROF", 28: "WINCH", 29: "IO", 30: "PWR", 31: "SYS",
    ]
    return names[signal] ?? "\(signal)"
}

/// One row of `ListUnits*`: the `a(ssssssouso)` struct.
///
/// Not obvious: a row whose `ActiveState` or `SubState` is not a state word is dropped (the
/// initializer fails), so every listed unit has typed states.
public struct UnitListEntry: UnitStateFacts, Hashable {
    public var name: String
    public var description: String
    /// nil for a load state this version does not know.
    public var loadState: LoadState?
    public var activeState: ActiveState
    public var subState: SubState
    public var followed: String
    public var objectPath: ObjectPath
    public var jobID: UInt32
    public var jobType: String
    public var jobPath: ObjectPath

    init?(_ value: BusValue) {
        guard let f = value.structureValue, f.count == 10,
              let name = f[0].stringValue, let description = f[1].stringValue, let load = f[2].stringValue,
              let active = f[3].stringValue, let sub = f[4].stringValue, let followed = f[5].stringValue,
              let path = f[6].objectPathValue, let jobID = f[7].integerValue, let jobType = f[8].stringValue,
              let jobPath = f[9].objectPathValue
        else { return nil }
        self.name = name
        self.description = description
        guard let activeState = ActiveState(rawValue: active), let subState = SubState(rawValue: sub) else { return nil }
        self.loadState = LoadState(rawValue: load)
        self.activeState = activeState
        self.subState = subState
        self.followed = followed
        self.objectPath = path
        self.jobID = UInt32(truncatingIfNeeded: jobID)
        self.jobType = jobType
        self.jobPath = jobPath
    }

    public var unitName: String { name }
    /// Listed rows are loaded unless systemd says `not-found`.
    public var isLoaded: Bool { loadState != .notFound }
}
