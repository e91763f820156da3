internal import FoundationEssentials

/// Whether every process of a unit is gone, and how its main process ended, read from the kernel
/// (the unit's `cgroup.events` on the unified hierarchy and the main process's `/proc/PID/stat`)
/// instead of from systemd's signals.
///
/// Why: systemd 252 sends the signals that tell a run's end only after it has started the unit's
/// `ExecStopPost=`, and on a host with a hybrid cgroup layout the manager blocks about 15 ms
/// moving that new process into the unit's cgroup (measured: its `write` to `cgroup.procs`), so a
/// stop that waits for systemd pays that whole spawn. The kernel knows sooner: the cgroup stops
/// being `populated` when the last process exits, and the main process stays a zombie, with its
/// wait status in `/proc/PID/stat`, until the manager reaps it after that spawn.
///
/// Not obvious: this can only confirm an end, never deny one. Where it cannot tell (no unified
/// hierarchy, the zombie already reaped, the PID reused, some process still running) it says
/// nothing and the caller waits for systemd as before.
public struct UnitProcesses: Sendable {
    /// `<cgroup2 mount>/<ControlGroup>/cgroup.events`.
    let eventsFile: String
    let mainPID: Int32
    /// Field 22 of the main process's `stat` when the probe was made: a PID reused since then
    /// has another start time.
    let mainStartTime: UInt64

    /// How a main process ended, as its parent's `waitid` would say.
    public enum End: Sendable, Equatable {
        case exited(Int32)
        case killed(signal: Int32)
    }

    /// A probe for the unit whose cgroup systemd names `controlGroup` (its `ControlGroup`
    /// property) and whose main process is `mainPID`; nil when the cgroup is not on a unified
    /// (v2) hierarchy mounted here or the main process cannot be read now.
    public init?(controlGroup: String?, mainPID: UInt32) {
        guard let controlGroup, controlGroup.hasPrefix("/"), mainPID > 0, let pid = Int32(exactly: mainPID),
              let mounts = Self.mountInfo, let directory = Self.unifiedDirectory(for: controlGroup, mountInfo: mounts),
              let startTime = POSIX.processStartTime(pid) else { return nil }
        eventsFile = directory + "/cgroup.events"
        self.mainPID = pid
        mainStartTime = startTime
    }

    /// How the main process ended, once no process of the unit runs and the main process is a
    /// zombie not yet reaped; nil until then, or when this cannot be known.
    public func end() -> End? {
        guard let events = POSIX.readText(eventsFile, limit: 4096), Self.isPopulated(events) == false,
              let main = POSIX.processStat(mainPID), main.state == "Z", main.startTime == mainStartTime,
              let status = main.exitCode else { return nil }
        return Self.end(waitStatus: status)
    }

    // MARK: - Parsing (pure, for tests)

    /// The directory of cgroup `path` on the cgroup2 mount listed in `mountInfo`, if any.
    static func unifiedDirectory(for path: String, mountInfo: String) -> String? {
        Mount.all(in: mountInfo).first { $0.type == "cgroup2" }?.directory(for: path)
    }

    /// The `populated` line of `cgroup.events`; nil when there is none.
    static func isPopulated(_ events: String) -> Bool? {
        for line in events.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count == 2, words[0] == "populated" { return words[1] == "1" }
        }
        return nil
    }

    struct Stat: Equatable {
        var state: Character
        var startTime: UInt64
        /// Field 52 (Linux 3.5+): the wait status of an exited process; nil on older kernels.
        var exitCode: Int32?
    }

    /// Fields of `/proc/PID/stat` (proc(5)). The command name (field 2) is in parentheses and may
    /// hold spaces and parentheses itself, so fields are counted after its last `)`.
    static func parseStat(_ text: String) -> Stat? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // fields[0] is field 3 (state), so field N is fields[N - 3].
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        let exitCode = fields.count > 49 ? Int32(fields[49].filter { !$0.isWhitespace }) : nil
        return Stat(state: state, startTime: start, exitCode: exitCode)
    }

    /// A wait status as `WIFEXITED`/`WTERMSIG` read it.
    static func end(waitStatus status: Int32) -> End? {
        let signal = status & 0x7f
        if signal == 0 { return .exited((status >> 8) & 0xff) }
        if signal == 0x7f { return nil }  // stopped, not ended
        return .killed(signal: signal)
    }

    /// This process's mount table, read once: `svcunit stop a b c` probes three units, and the
    /// cgroup2 mount does not move while it runs.
    private static let mountInfo: String? = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
}
