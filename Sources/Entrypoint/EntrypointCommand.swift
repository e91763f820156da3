// `svcunit entrypoint`: what a svcunit unit runs. It re-creates the service from its JSON file and
// runs it in this process: no fork, no detaching, no PID file (systemd tracks the process).
//
//   svcunit entrypoint --config-file PATH               run the service (the unit's ExecStart)
//   svcunit entrypoint --notify --config-file PATH      the same in a Type=notify unit (svcunit@.service):
//                                                       choose the port, report READY=1 once healthy
//   svcunit entrypoint --record-exit --config-file PATH record how the run ended (ExecStopPost)
//   (internal) --await-ready, --await-exec: its readiness helpers
//
// One binary with the CLI (issue 12): the package ships svcunit once, and the `svcunit` main
// dispatches `entrypoint` before anything of the CLI runs.
public import ArgumentParser
import Diagnostics
import FoundationEssentials
import OSCalls
import SystemPackage
import SDDaemon
import ServiceHealth
import ServiceKinds
import ServiceModel

/// Exit statuses, from sysexits.h, so systemd's "exited with status N" tells what went wrong.
enum EntrypointExit {
    static let usage: Int32 = 64        // EX_USAGE
    static let badDocument: Int32 = 65  // EX_DATAERR
    static let failed: Int32 = 70       // EX_SOFTWARE
    static let noInput: Int32 = 66      // EX_NOINPUT
}

func fail(_ message: String, _ code: Int32) -> Never {
    try? FileDescriptor.standardError.writeAll(bytes: Array("svcunit entrypoint: error: \(message)\n".utf8))
    CurrentProcess.exit(code)
}

/// The unit side of svcunit, as a hidden subcommand of the one `svcunit` binary.
///
/// Not obvious: it must stay cheap, since every start and every stop (`ExecStopPost=`) runs it;
/// `svcunit`'s main dispatches here before the CLI's own set-up.
public struct EntrypointCommand: AsyncParsableCommand {
    /// Not obvious: named as `svcunit`'s subcommand through `_superCommandName`, because main parses
    /// it as a root command of its own. That also spares every start and every stop argument-parser's
    /// check for `--generate-completion-script`, which parses the command line twice more with its
    /// completion commands (callgrind, up to the exec of the service's command: 10.6M instructions
    /// with it, 9.6M without). Completions come from the `svcunit` tree, which hides this command.
    public static let configuration = CommandConfiguration(
        commandName: "entrypoint", _superCommandName: "svcunit",
        abstract: "Runs a stored service in this process (what svcunit's units run; not for people).")

    @Option(name: .customLong("config-file"), help: "The service's service.json.")
    var configFile: String

    @Flag(help: "Record how the run ended into the document (the unit's ExecStopPost).")
    var recordExit = false

    @Flag(help: "Type=notify template instance: choose the port, report READY=1 once healthy.")
    var notify = false

    @Flag(help: .hidden) var awaitReady = false
    @Flag(help: .hidden) var awaitExec = false

    public init() {}

    /// Parses `arguments` (those after `svcunit entrypoint`), runs, and exits.
    public static func run(arguments: [String]) async -> Never {
        await main(arguments)
        CurrentProcess.exit(0)
    }

    public func run() async throws {
        let configFile = self.configFile
        Self.bootstrapDiagnostics()
        let registry = BuiltinKinds.registry()
        let recordExit = self.recordExit, notify = self.notify, awaitReady = self.awaitReady
        let awaitExec = self.awaitExec

        if recordExit {
            // systemd hands ExecStopPost the outcome of the run in these variables (systemd.exec(5)).
            let env = CurrentProcess.environmentVariables
            // The `svcunit stop` that stopped this run records its end (see RunEndClaim).
            if let invocation = env["INVOCATION_ID"], RunEndClaim.isClaimed(invocation, configFile: configFile),
               RunEndClaim.honoursClaim(exitCode: env["EXIT_CODE"], exitStatus: env["EXIT_STATUS"], result: env["SERVICE_RESULT"]) {
                CurrentProcess.exit(0)
            }
            let result = env["SERVICE_RESULT"] ?? "unknown"
            let exitText: String? = {
                guard let code = env["EXIT_CODE"], let status = env["EXIT_STATUS"] else { return nil }
                switch code {
                case "exited": return "exited with status \(status)"
                case "killed": return "killed by signal \(status)"
                case "dumped": return "dumped core on signal \(status)"
                default: return "\(code) \(status)"
                }
            }()
            // A SIGKILLed main process may have met the unit's MemoryMax=; on cgroup v1 only the kernel's
            // counter can tell (systemd says Result=signal there). This process runs in the unit's cgroup.
            let killed = env["EXIT_CODE"] == "killed" && env["EXIT_STATUS"] == "KILL"
            let oomKills = killed || result == "oom-kill" ? OutOfMemoryKills.inOwnCgroup() : nil
            let url = URL(fileURLWithPath: configFile)
            let directory = url.deletingLastPathComponent()
            guard let uuid = ServiceUUID(rawValue: directory.lastPathComponent) else {
                fail("\(configFile) is not inside a <store>/<uuid>/ directory", EntrypointExit.badDocument)
            }
            do {
                let store = try ServiceStore(root: directory.deletingLastPathComponent().path, create: false)
                // A service whose directory is gone (deleted while its unit ran) has nothing to record into;
                // taking the lock would create the directory again, an entry without a document.
                guard store.hasEntry(for: uuid) else {
                    fail("not recording the end of the run: \(directory.path) is gone", EntrypointExit.failed)
                }
                try store.withLock(uuid) {
                    let service = try store.load(uuid, with: registry)
                    service.update { document in
                        let run = LastRun(
                            unit: env["SVCUNIT_UNIT"] ?? "svcunit-\(uuid.rawValue).service", invocationID: env["INVOCATION_ID"],
                            result: result, exit: exitText, finishedAt: Date().timeIntervalSince1970, oomKills: oomKills)
                        document.status.lastRun = run
                        if run.succeeded {
                            document.status.updateState(.inactive)
                        } else {
                            document.status.updateState(.error, error: run.summary)
                        }
                    }
                    try store.save(service)
                    PythonService.removeStalePIDFile(service.document)
                }
            } catch {
                fail("cannot record the end of the run in \(configFile): \(error)", EntrypointExit.failed)
            }
            CurrentProcess.exit(0)
        }

        if awaitExec { Self.awaitExecThenNotify() }
        func loadDocument() -> ServiceDocument { Self.loadDocument(configFile, registry: registry) }

        if awaitReady {
            await Readiness.awaitHealthyThenNotify(loadDocument())
            CurrentProcess.exit(0)
        }

        var document = loadDocument()
        if document.isPython {
            // A user's Python class: its own interpreter runs it (and reports READY=1 once the class has
            // loaded). The port is chosen first, as `svcunit start` would, since `run()` reads it.
            if notify { document = Readiness.prepareEndpoint(document, configFile: configFile, registry: registry) }
            do { try PythonLaunch.replaceProcess(document, configFile: configFile) } catch {
                fail("\(configFile): \(error)", EntrypointExit.failed)
            }
        }
        func execReportingReady(_ document: ServiceDocument) -> Never { Self.execReportingReady(document, configFile: configFile) }

        if !notify, Notifier.isExpected {
            // A transient unit (Type=notify): "active" must mean the service's program runs. The sleeper
            // runs here and now; a command runs only once exec'd, which its helper reports.
            if document.kind == CommandService.self { execReportingReady(document) }
            Notifier.ready(status: "running")
        } else if notify {
            document = Readiness.prepareEndpoint(document, configFile: configFile, registry: registry)
            if document.endpoint?.monitor == nil {
                if document.kind == CommandService.self { execReportingReady(document) }
                Notifier.ready(status: "running (no health monitor)")
            } else if document.kind == CommandService.self {
                Readiness.spawnHelper(configFile: configFile)
            } else {
                let probed = document
                Task.detached { await Readiness.awaitHealthyThenNotify(probed) }
            }
        }
        do {
            try await document.kind.run(document)
        } catch {
            fail("service \(document.uuid) (\(document.config.name)) failed: \(error)", EntrypointExit.failed)
        }
    }

    // MARK: - The unit's own command lines, without argument-parser

    /// Runs the two command lines svcunit itself writes for every start of a command service,
    /// exactly as written, without argument-parser: `--config-file PATH` (the transient unit's
    /// `ExecStart=`, see `SystemdProvisioner.mainCommand`) and `--await-exec --config-file PATH`
    /// (its exec watcher). Returns, having done nothing, for any other command line and for any
    /// document that is not a command service under `Type=notify`; `main` then parses as usual.
    ///
    /// Not obvious: this is the start's critical path (the unit's process exists only to exec the
    /// command), and argument-parser's parse with its first reflection and conformance lookups,
    /// plus the concurrency runtime's threads, were two thirds of this process's instructions
    /// (callgrind: 9.6M before, 3.1M without them; BENCHMARKS.md). Every other form, `--help` and
    /// every usage error still go through argument-parser, whose `EntrypointCommand` stays the one
    /// definition of the options; `EntrypointCommandLineTests` pins that both read these two
    /// forms alike.
    public static func runUnitCommandLine(_ arguments: [String]) {
        guard let form = UnitCommandLine(arguments) else { return }
        switch form {
        case .awaitExec:
            awaitExecThenNotify()
        case .run(let configFile):
            guard Notifier.isExpected else { return }
            Self.bootstrapDiagnostics()
            let document = loadDocument(configFile, registry: BuiltinKinds.registry())
            guard !document.isPython, document.kind == CommandService.self else { return }
            execReportingReady(document, configFile: configFile)
        }
    }

    /// swift-log at the level `SVCUNIT_LOG_LEVEL` names, the one variable the entrypoint reads for it.
    static func bootstrapDiagnostics() {
        Diagnostics.bootstrap(verbose: false, logLevel: CurrentProcess.environmentValue(Diagnostics.logLevelVariable))
    }

    /// The command lines `runUnitCommandLine` recognises.
    enum UnitCommandLine: Equatable {
        case run(configFile: String)
        case awaitExec

        init?(_ arguments: [String]) {
            // A path that begins with "-" would be an option to argument-parser: it decides those.
            guard let configFile = arguments.last, !configFile.hasPrefix("-") else { return nil }
            if arguments == Self.runArguments(configFile: configFile) {
                self = .run(configFile: configFile)
            } else if arguments == Self.awaitExecArguments(configFile: configFile) {
                self = .awaitExec
            } else {
                return nil
            }
        }

        /// The unit's `ExecStart=` after `svcunit entrypoint` (as `SystemdProvisioner.mainCommand` writes it).
        static func runArguments(configFile: String) -> [String] { ["--config-file", configFile] }

        /// The exec watcher's arguments after `svcunit entrypoint` (`execReportingReady` starts it with them).
        static func awaitExecArguments(configFile: String) -> [String] { ["--await-exec", "--config-file", configFile] }
    }

    /// The exec watcher: end of file on the pipe means the command replaced the entrypoint; a byte
    /// means its exec failed, and the entrypoint exits with the reason (no READY: the start fails).
    static func awaitExecThenNotify() -> Never {
        if CommandService.awaitExec() {
            Notifier.ready(status: "running")
            Notifier.barrier()
        }
        CurrentProcess.exit(0)
    }

    static func loadDocument(_ configFile: String, registry: ServiceRegistry) -> ServiceDocument {
        // A descriptor read, not `Data(contentsOf:)`: FoundationEssentials' file reading cost the
        // entrypoint, on every start, an eighth of its instructions (callgrind).
        let bytes: [UInt8]
        do throws(Errno) {
            // The svcunit that started this unit writes the document while the manager forks the unit,
            // holding the service's lock from before the start until the write is done
            // (`SystemdProvisioner.provision`): a shared lock waits for that write. A document outside
            // a store has no lock file beside it, and needs none: nothing writes it during a start.
            let lock = try? FileDescriptor.open(ServiceStore.lockPath(forConfigFile: configFile), .readOnly,
                                                options: [.closeOnExec, .noFollow])
            defer { try? lock?.close() }
            try? lock?.lockShared()
            let file = try FileDescriptor.open(configFile, .readOnly, options: .closeOnExec)
            defer { try? file.close() }
            bytes = try file.readToEnd(limit: ServiceDocument.maximumSize)
        } catch {
            fail("cannot read \(configFile): \(error.text)", EntrypointExit.noInput)
        }
        do {
            return try registry.decode(data: Data(bytes))
        } catch {
            fail("\(configFile): \(error)", EntrypointExit.badDocument)
        }
    }

    /// READY=1 for a command is sent by a helper once the exec has happened (see `CommandService.exec`).
    static func execReportingReady(_ document: ServiceDocument, configFile: String) -> Never {
        let watcher = [Readiness.executable, "entrypoint"] + UnitCommandLine.awaitExecArguments(configFile: configFile)
        do { try CommandService.exec(document, watcher: watcher) } catch {
            fail("service \(document.uuid) (\(document.config.name)) failed: \(error)", EntrypointExit.failed)
        }
    }
}
