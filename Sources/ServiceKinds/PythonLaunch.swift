public import ServiceModel
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What `svcunit-entrypoint` does for a user's Python service (`PythonService`), which it cannot
/// run in-process: hand the process to the service's own interpreter and clean up after it.
///
/// Transient units run the interpreter directly; this is for units that start through the
/// entrypoint (the `svcunit@` template of `svcunit enable`). Not obvious: the exec keeps the PID,
/// so the Python process stays the unit's main process and may send `READY=1` itself.
public enum PythonLaunch {
    /// Replaces this process with the document's interpreter running svcunit's runner.
    /// - Throws: `ServiceModelError` when no interpreter is recorded, it or the runner is missing,
    ///   or the exec fails.
    public static func replaceProcess(_ document: ServiceDocument, configFile: String) throws(ServiceModelError) -> Never {
        let argv = try PythonService.command(for: document, configFile: configFile, runner: PythonService.runnerPath())
        try Exec.replaceProcess(CommandService.Invocation(argv: argv, environment: [], workingDirectory: nil))
    }

    /// Removes `<runtime_path>/service.pid` once the process it names is gone. The runner writes
    /// it so that ZenML's own client sees the service running; after the unit ends (however it
    /// ended: a SIGKILL runs no Python clean-up) it would claim a dead, or reused, PID.
    /// A file naming a live process is left alone: it is not ours to judge.
    public static func removeStalePIDFile(_ document: ServiceDocument) {
        guard document.isPython, let runtimePath = document.status.runtimePath, !runtimePath.isEmpty else { return }
        let path = runtimePath.hasSuffix("/") ? runtimePath + "service.pid" : runtimePath + "/service.pid"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        if let pid = Int32(text.filter { !$0.isWhitespace }), pid > 0, kill(pid, 0) == 0 || errno == EPERM {
            return
        }
        unlink(path)
    }
}
