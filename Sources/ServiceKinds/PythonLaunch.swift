public import ServiceModel
import FoundationEssentials

/// What `svcunit entrypoint` does for a user's Python service (`PythonService`), which it cannot
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
}
