import FoundationEssentials
import ServiceModel
import OSCalls

/// `register`'s question to a Python service's own interpreter: does ZenML load this document?
///
/// Runs `svcunit_zenml_runner.py check` in that interpreter and working directory with the
/// environment the service will get, and turns its one JSON line into one clear error. Not obvious:
/// the check also asks ZenML which environment the class's `_get_daemon_cmd()` adds (ZenML's own
/// local server puts its settings there); that is what it returns, to be kept in the document.
enum PythonCheck {
    static func run(file: String, settings: SvcUnitSettings, environment: [String: String]) throws -> [(key: String, value: String)] {
        guard let python = settings.python, let workdir = settings.workdir else { return [] }
        guard let runner = PythonService.runnerPath() else {
            throw CLIError("svcunit's Python runner \(PythonService.runnerFileName) is missing; reinstall svcunit or set SVCUNIT_PYTHON_RUNNER",
                           status: .failure)
        }
        var childEnvironment = environment
        for (name, value) in settings.environment { childEnvironment[name] = value }
        let child = try ChildProcess.run(
            [python, runner, "check", "--config-file", Paths.absolute(file), "--workdir", workdir], environment: childEnvironment)
        let where_ = "(\(python) in \(workdir))"
        let lastLine = child.stdout.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        guard let parsed = try? JSONText.parse(Data(utf8: lastLine)), case .object(let result) = parsed else {
            let reason = child.stderr.split(whereSeparator: \.isNewline).last.map(String.init) ?? "exit status \(child.status)"
            throw CLIError("cannot check \(file) with \(python): \(reason)", status: .badInput)
        }
        if result["ok"] == .bool(true) {
            guard case .object(let added)? = result["daemon_env"] else { return [] }
            return added.compactMap { member in
                guard case .string(let value) = member.value else { return nil }
                return (member.key, value)
            }
        }
        func text(_ key: String) -> String? {
            if case .string(let value)? = result[key] { return value }
            return nil
        }
        let message = text("message") ?? "unknown error"
        let module = text("module")
        let problem: String
        switch text("problem") {
        case "no-zenml":
            problem = "zenml is not installed for \(python) \(where_): \(message); install it there or give --python PATH"
        case "module-not-importable":
            problem = "cannot import \(module.map { "module \($0)" } ?? "the service's module") \(where_): \(message); "
                + "give --workdir DIR (the directory your module is in) or set PYTHONPATH"
        case "not-local-daemon-service":
            problem = "the document's class is not a ZenML LocalDaemonService \(where_): \(message)"
        case "main-module":
            problem = "the document's class was defined in a script run as __main__ \(where_): \(message)"
        case "invalid-document":
            problem = "ZenML does not load \(file) \(where_): \(message)"
        default:
            problem = "ZenML cannot load \(file) \(where_): \(message)"
        }
        throw CLIError(problem + " (--no-check skips this check)", status: .badInput)
    }
}

/// A daemon ZenML started (`local_daemon_entrypoint`, double-forked, with a PID file) that
/// `register --adopt` takes over.
///
/// Not obvious: ZenML's daemon handles SIGTERM by cleaning up and *returning*, so it keeps serving;
/// only SIGKILL ends it. And a PID file can name anything by now: only a live process running
/// ZenML's entrypoint with this very config file is ever signalled.
enum LeakedDaemon {
    static let entrypointModule = "zenml.services.local.local_daemon_entrypoint"
    static let termGrace: Duration = .seconds(3)

    /// Stops the daemon named by `pidFile` for `configFile` and removes the PID file; returns
    /// what was done, for the user.
    static func stop(pidFile: String, configFile: String) async throws -> String {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8) else {
            throw CLIError("--adopt: \(pidFile) does not exist: no ZenML daemon runs this service (register without --adopt)",
                           status: .notFound)
        }
        guard let pid = Int32(text.filter { !$0.isWhitespace }), pid > 1 else {
            throw CLIError("--adopt: \(pidFile) holds \(text.prefix(40).debugDescription), not a process ID", status: .badInput)
        }
        let process = RunningProcess(pid: pid)
        guard process.isAlive, let argv = process.commandLine else {
            FileSystemCalls.removeFile(pidFile)
            return "removed stale \(pidFile): PID \(pid) is not running"
        }
        guard runs(argv, configFile: configFile) else {
            let shown = argv.prefix(6).joined(separator: " ")
            throw CLIError("--adopt: refusing to signal PID \(pid) from \(pidFile): it is not ZenML's daemon for \(configFile) "
                           + "(it runs: \(shown.prefix(200))); svcunit only stops ZenML's own local_daemon_entrypoint",
                           status: .failure)
        }
        process.send(.terminate)
        var how = "it exited on SIGTERM"
        if !(await process.waitUntilGone(timeout: termGrace)) {
            // Its whole process group (it setsid()s) goes too, so no child keeps the port.
            if let group = ProcessID(pid).processGroup, group > 1, group != CurrentProcess.processGroup {
                RunningProcess(pid: group).send(.kill, group: true)
            }
            process.send(.kill)
            guard await process.waitUntilGone(timeout: .seconds(10)) else {
                throw CLIError("--adopt: ZenML's daemon PID \(pid) survived SIGKILL; not registering", status: .failure)
            }
            how = "it ignored SIGTERM (ZenML's handler returns without exiting), so it was killed with SIGKILL after \(termGrace.components.seconds) s"
        }
        FileSystemCalls.removeFile(pidFile)
        return "stopped ZenML's daemon PID \(pid) for \(configFile): \(how)"
    }

    /// Whether `argv` is `python -m zenml.services.local.local_daemon_entrypoint --config-file F`
    /// for this very file.
    static func runs(_ argv: [String], configFile: String) -> Bool {
        guard argv.contains(entrypointModule) || argv.contains(where: { $0.hasSuffix("/local_daemon_entrypoint.py") }),
              let flag = argv.firstIndex(of: "--config-file"), flag + 1 < argv.count else { return false }
        return Paths.canonical(argv[flag + 1]) == Paths.canonical(configFile)
    }
}
