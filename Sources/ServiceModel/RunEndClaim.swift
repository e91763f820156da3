import FoundationEssentials

/// Who records how a run ended: the `svcunit stop` that is watching it, or else the unit's own
/// `ExecStopPost=`.
///
/// systemd runs `ExecStopPost=` inside the stop job, so a stop waits for it. When svcunit stops a
/// run itself it already sees the end (the unit's `Result` and exit status arrive on its watch), so
/// it leaves a claim naming that run's invocation ID in the service's directory before it asks for
/// the stop; the unit's `ExecStopPost=` finds the claim for its own `$INVOCATION_ID` and exits at
/// once, and the stopping command writes the record together with the stopped admin state, one
/// write instead of two. Not obvious: a claim names one run only, so a claim left behind by a
/// stopping command that died never silences the record of a later run.
public enum RunEndClaim {
    /// `<root>/<uuid>/.stopping`: the invocation ID and a newline (`read` in sh needs the newline).
    public static let fileName = ".stopping"

    /// The claim's path for the document at `configFile` (`<dir>/service.json`).
    public static func path(forConfigFile configFile: String) -> String {
        PathText.directory(of: configFile) + "/" + fileName
    }

    /// Claims the end of run `invocationID` of `uuid` for the caller; false when the claim could not
    /// be written (a read-only store): then the unit records the end itself, as it does for runs
    /// nobody watches, and the caller must not count on the claim.
    public static func claim(_ invocationID: String, of uuid: ServiceUUID, in store: ServiceStore) -> Bool {
        let path = store.directory(for: uuid) + "/" + fileName
        POSIX.unlinkFile(path)
        return POSIX.writeNewFile(path, invocationID + "\n")
    }

    /// Whether the end of run `invocationID` of the document at `configFile` is claimed.
    public static func isClaimed(_ invocationID: String, configFile: String) -> Bool {
        guard !invocationID.isEmpty, let text = POSIX.readText(path(forConfigFile: configFile), limit: 256) else { return false }
        return text.split(separator: "\n").first.map(String.init) == invocationID
    }

    /// Removes the claim (once the end is recorded, or when the stop did not happen).
    public static func release(of uuid: ServiceUUID, in store: ServiceStore) {
        POSIX.unlinkFile(store.directory(for: uuid) + "/" + fileName)
    }

    /// The `sh` script a transient unit's `ExecStopPost=` runs (`$1`: the document, `$2`: the
    /// svcunit executable): exit at once when the run's end is claimed, else record it with
    /// `svcunit entrypoint --record-exit`. A shell's start costs a fraction of the Swift
    /// executable's, and this is what every watched stop waits for. A main process killed by
    /// SIGKILL is always recorded by the entrypoint, which alone can read the cgroup's
    /// out-of-memory counter (`honoursClaim`). Not obvious: it is a file in the store
    /// (`scriptName`), not an `sh -c` argument, because systemd 252 cannot write `$`, quotes or `;`
    /// into a transient unit file in a form it reads back at the next daemon-reload.
    public static let stopPostScript = """
        # Written by svcunit: what its units run after each run (ExecStopPost=). Rewritten when it differs.
        # $1: the service's service.json, $2: the svcunit executable.
        [ "$EXIT_STATUS" != KILL ] && read -r id 2>/dev/null <"${1%/*}/.stopping" && [ "$id" = "$INVOCATION_ID" ] && exit 0
        exec "$2" entrypoint --record-exit --config-file "$1"

        """

    /// The script's name in the store's root directory.
    public static let scriptName = ".record-exit.sh"

    /// Whether a claim may silence the record of a run that ended this way: not when the main
    /// process was SIGKILLed or systemd saw an OOM kill (only the unit's own process can count
    /// the cgroup's out-of-memory kills).
    public static func honoursClaim(exitCode: String?, exitStatus: String?, result: String?) -> Bool {
        !(exitCode == "killed" && exitStatus == "KILL") && result != "oom-kill"
    }
}

extension PythonService {
    /// Removes `<runtime_path>/service.pid` once the process it names is gone. The runner writes
    /// it so that ZenML's own client sees the service running; after the unit ends (however it
    /// ended: a SIGKILL runs no Python clean-up) it would claim a dead, or reused, PID.
    /// A file naming a process that still runs is left alone: it is not ours to judge. One that has
    /// ended and only waits to be reaped (a zombie: `svcunit stop` may be done before systemd reaps
    /// it) is stale.
    public static func removeStalePIDFile(_ document: ServiceDocument) {
        guard document.isPython, let runtimePath = document.status.runtimePath, !runtimePath.isEmpty else { return }
        let path = runtimePath.hasSuffix("/") ? runtimePath + "service.pid" : runtimePath + "/service.pid"
        guard let text = POSIX.readText(path, limit: 64) else { return }
        if let pid = Int32(text.filter { !$0.isWhitespace }), pid > 0, POSIX.processRuns(pid) { return }
        POSIX.unlinkFile(path)
    }
}
