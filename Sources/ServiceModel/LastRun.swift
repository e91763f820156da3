/// What the process manager reported when a service's process last ended: svcunit's memory of what
/// systemd forgets.
///
/// systemd garbage-collects a transient unit the moment it exits cleanly, and a failed one once it is
/// reset, taking `Result` and the exit status with it. svcunit records them here, in the service's
/// `status.last_run` object, so `status` can still explain the last run later. Not obvious: the
/// record is written by the unit itself (an `ExecStopPost=` of the entrypoint, which systemd gives
/// `$SERVICE_RESULT`, `$EXIT_CODE` and `$EXIT_STATUS`), so it is written even when no svcunit
/// command is watching.
public struct LastRun: Sendable, Hashable {
    /// The systemd unit that ran, e.g. `svcunit-<uuid>.service`.
    public var unit: String
    /// systemd's invocation ID of that run (32 hex digits), when known.
    public var invocationID: String?
    /// systemd's `Result`: `success`, `exit-code`, `signal`, `timeout`, `oom-kill`, …
    public var result: String
    /// How the main process ended: "exited with status 3", "killed by signal KILL".
    public var exit: String?
    /// When it ended, in seconds since the epoch.
    public var finishedAt: Double?
    /// How many processes the kernel's out-of-memory killer killed in the unit's memory cgroup, when
    /// the main process died of SIGKILL and a memory controller could tell; nil when unknown.
    public var oomKills: Int?

    public init(unit: String, invocationID: String? = nil, result: String, exit: String? = nil, finishedAt: Double? = nil,
                oomKills: Int? = nil) {
        self.unit = unit
        self.invocationID = invocationID
        self.result = result
        self.exit = exit
        self.finishedAt = finishedAt
        self.oomKills = oomKills
    }

    /// True when systemd judged the run a success.
    public var succeeded: Bool { result == "success" }

    /// True when the run ended because it ran out of memory: systemd said so (`oom-kill`, cgroup v2), or
    /// the main process died of a signal while the kernel's OOM killer had acted in the unit's cgroup
    /// (which systemd cannot see on cgroup v1). A stop that timed out is a timeout even then.
    public var outOfMemory: Bool { result == "oom-kill" || (result == "signal" && (oomKills ?? 0) > 0) }

    /// The reason a user reads for an out-of-memory end.
    public static let outOfMemoryText = "killed by the out-of-memory killer (its memory limit or the machine's memory ran out)"

    /// One line: "exited with status 3 (exit-code)".
    public var summary: String {
        if outOfMemory { return Self.outOfMemoryText + (exit.map { ": \($0)" } ?? "") }
        if let exit { return succeeded ? exit : "\(exit) (\(result))" }
        return result
    }

    public static let key = "last_run"

    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("unit", .string(unit))]
        members.append(("invocation_id", invocationID.map(JSONValue.string) ?? .null))
        members.append(("result", .string(result)))
        members.append(("exit", exit.map(JSONValue.string) ?? .null))
        members.append(("finished_at", finishedAt.map(JSONValue.double) ?? .null))
        if let oomKills { members.append(("oom_kills", .int(Int64(oomKills)))) }
        return .object(JSONObject(members))
    }

    public init?(json: JSONValue) {
        guard case .object(let o) = json, case .string(let unit)? = o["unit"], case .string(let result)? = o["result"] else {
            return nil
        }
        self.unit = unit
        self.result = result
        if case .string(let id)? = o["invocation_id"] { invocationID = id } else { invocationID = nil }
        if case .string(let exit)? = o["exit"] { self.exit = exit } else { exit = nil }
        switch o["finished_at"] {
        case .double(let d)?: finishedAt = d
        case .int(let i)?: finishedAt = Double(i)
        default: finishedAt = nil
        }
        if case .int(let n)? = o["oom_kills"], n >= 0, n <= Int64(Int32.max) { oomKills = Int(n) } else { oomKills = nil }
    }
}

extension LocalDaemonServiceStatus {
    /// The record of the last run (`status.last_run`), kept among the status's extra fields so that
    /// documents from ZenML, which has no such field, stay byte-for-byte round-trippable.
    public var lastRun: LastRun? {
        get { unknownFields.members[LastRun.key].flatMap(LastRun.init(json:)) }
        set { unknownFields.members[LastRun.key] = newValue?.json }
    }
}
