public import ArgumentParser
import FoundationEssentials
import ServiceModel
import SystemdProvisioning
import OSCalls

extension SvcUnit {
    /// `svcunit register FILE`: adds an existing service.json (from ZenML or another store) to the store.
    ///
    /// Not obvious: a document already at `<root>/<uuid>/service.json` of the store in use is adopted
    /// where it is, not copied, so svcunit and ZenML's own client share one file. For a user's Python
    /// class, register records the interpreter, working directory and environment the unit needs and,
    /// unless `--no-check`, asks that interpreter whether ZenML loads the document.
    public struct Register: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "register",
            _superCommandName: SvcUnit.toolName,
            abstract: "Validate a service.json and add it to the store.",
            discussion: """
                Prints the service's UUID. Exits 1 if a service with that UUID is already stored \
                (from another file), 3 if the file does not exist, 5 if it is not a valid service \
                document or its Python class does not load.

                A document whose top-level `type` is a Python class path (as ZenML writes it) is a \
                Python service: svcunit runs that class with --python (default $VIRTUAL_ENV/bin/python, \
                else python3 on PATH) in --workdir (default: the current directory), with the \
                caller's ZENML_* and PYTHONPATH variables plus --env and --pass-env. Unless --no-check, \
                that interpreter must import zenml and load the document with ZenML's own \
                BaseService.from_json. A FILE already at <root>/<uuid>/service.json is registered in \
                place (ZenML's root_runtime_path as --root).

                --adopt takes over a daemon that ZenML started for FILE and cannot stop (its \
                service.pid names a live local_daemon_entrypoint for FILE): it is killed (SIGTERM, then \
                SIGKILL after 3 s), the stale PID file removed, and the service started under systemd \
                on the same port.

                EXAMPLES
                  svcunit register ./service.json
                  svcunit --root ~/.config/zenml/local_stores/services register \\
                      ~/.config/zenml/local_stores/services/<uuid>/service.json --python .venv/bin/python
                  svcunit register --adopt --root <zenml root> <zenml root>/<uuid>/service.json
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: "The service.json file to register.")
        public var file: String

        @Flag(help: "Print the stored document instead of the UUID.")
        public var json = false

        @Option(help: ArgumentHelp("Python interpreter for a Python service (default: $VIRTUAL_ENV/bin/python, else python3 on PATH).",
                                   valueName: "path"))
        public var python: String?

        @Option(help: ArgumentHelp("Working directory of a Python service (default: the current directory).", valueName: "dir"))
        public var workdir: String?

        @Option(name: .customLong("env"), help: ArgumentHelp("Environment variable for a Python service (repeatable).", valueName: "name=value"))
        public var environment: [String] = []

        @Option(name: .customLong("pass-env"), help: ArgumentHelp("Pass this variable's current value to a Python service (repeatable).",
                                                                   valueName: "name"))
        public var passEnvironment: [String] = []

        @Flag(name: .customLong("no-check"), help: "Do not ask the Python interpreter whether ZenML loads the document.")
        public var noCheck = false

        @Flag(help: "Stop the ZenML daemon running FILE (its service.pid) and start the service under systemd instead.")
        public var adopt = false

        @Option(parsing: .unconditional, help: ArgumentHelp("With --adopt: seconds to wait for the service to start.", valueName: "seconds"))
        public var timeout = DurationValue("30")

        public init() {}

        public func validate() throws {
            for item in environment {
                guard let equals = item.firstIndex(of: "="), SvcUnitSettings.isEnvironmentName(String(item[..<equals])) else {
                    throw ValidationError("--env \(item.debugDescription) is not NAME=value with a NAME of letters, digits and _")
                }
            }
            for name in passEnvironment where !SvcUnitSettings.isEnvironmentName(name) {
                throw ValidationError("--pass-env \(name.debugDescription) is not a variable name (letters, digits and _)")
            }
            // Before anything runs: a bad --timeout must not surface after a daemon was already stopped.
            try checkingValues { _ = try timeout.seconds("--timeout") }
        }

        public func run() async throws {
            let context = CommandContext(global)
            let wait = try timeout.duration("--timeout")
            let data = try Inspect.read(file)
            var document: ServiceDocument
            do { document = try context.registry.decode(data: data) } catch { throw error.inFile(file) }
            if document.isPython {
                let environment = CurrentProcess.environmentVariables
                var settings = try pythonSettings(environment)
                settings.health = document.svcunit?.health  // re-registering keeps the health supervision
                if !noCheck {
                    settings.daemonEnvironment = try PythonCheck.run(file: file, settings: settings, environment: environment)
                }
                document.svcunit = settings
            } else if python != nil || workdir != nil || !self.environment.isEmpty || !passEnvironment.isEmpty || adopt {
                throw CLIError.usage("--python, --workdir, --env, --pass-env and --adopt apply to Python services only; "
                                     + "\(file) is svcunit's own \(document.className)")
            }
            // Only now is the store touched (created if need be): a refused document leaves no trace.
            let store = try context.store(create: true)
            let inPlace = Paths.canonical(file) == Paths.canonical(store.file(for: document.uuid))
            func refuseIfStored() throws {
                if !inPlace, try store.list().contains(document.uuid) {
                    throw CLIError("service \(document.uuid) is already stored in \(store.root); delete it first or register another file",
                                   status: .failure)
                }
            }
            try refuseIfStored()
            if document.config.rootRuntimePath == nil { document.config.rootRuntimePath = store.root }
            // Refused before anything happens (an adopted daemon stopped, a file written): a document
            // svcunit could not read back would leave a service that reads as "no service".
            let encoded = try document.encodedForStore()
            if adopt {
                let directory = URL(fileURLWithPath: Paths.absolute(file)).deletingLastPathComponent().path
                let report = try await LeakedDaemon.stop(pidFile: directory + "/service.pid", configFile: file)
                print(report)
            }
            try store.withStoreLock {
                try refuseIfStored()
                try store.withLock(document.uuid) { try store.write(encoded, for: document.uuid) }
            }
            if json { print(document.formatted(), terminator: "") } else { print(document.uuid.rawValue) }
            if adopt {
                let systemd = try await context.services(store: store)
                _ = try await systemd.start(document.uuid, timeout: wait)
                print("started \(document.label) under systemd\(Batch.endpointSuffix(systemd, document.uuid))")
            }
        }

        /// `--python PATH` (or a name looked up on PATH) as an absolute path of an executable file.
        static func interpreter(_ python: String, environment: [String: String]) throws(CLIError) -> String {
            guard let found = python.contains("/") ? Paths.absolute(python) : Paths.findExecutable(python, searchPath: environment["PATH"]),
                  Paths.isExecutableFile(found) else {
                throw CLIError("Python interpreter \(python) is not an executable file", status: .badInput)
            }
            return found
        }

        /// The interpreter, working directory and environment a Python service runs with.
        func pythonSettings(_ environment: [String: String]) throws -> SvcUnitSettings {
            let interpreter: String
            if let python {
                interpreter = try Self.interpreter(python, environment: environment)
            } else if let venv = environment["VIRTUAL_ENV"], !venv.isEmpty {
                interpreter = Paths.absolute(venv + "/bin/python")
                guard Paths.isExecutableFile(interpreter) else {
                    throw CLIError("Python interpreter \(interpreter) (from VIRTUAL_ENV) is not an executable file; give --python PATH",
                                   status: .badInput)
                }
            } else {
                guard let found = Paths.findExecutable("python3", searchPath: environment["PATH"]) else {
                    throw CLIError("no python3 on PATH; give the interpreter that has zenml with --python PATH", status: .badInput)
                }
                interpreter = found
            }
            let directory = Paths.absolute(workdir ?? Paths.currentDirectory)
            guard Paths.isDirectory(directory) else {
                throw CLIError("working directory \(directory) is not a directory (--workdir)", status: .badInput)
            }
            var variables: [(key: String, value: String)] = environment
                .filter { $0.key.hasPrefix("ZENML_") || $0.key == "PYTHONPATH" }
                .sorted { $0.key < $1.key }
                .map { ($0.key, $0.value) }
            func set(_ name: String, _ value: String) {
                variables.removeAll { $0.key == name }
                variables.append((name, value))
            }
            for name in passEnvironment {
                guard let value = environment[name] else {
                    throw CLIError("--pass-env \(name): the variable is not set in this environment", status: .usage)
                }
                set(name, value)
            }
            for item in self.environment {
                let equals = item.firstIndex(of: "=")!
                set(String(item[..<equals]), String(item[item.index(after: equals)...]))
            }
            return SvcUnitSettings(python: interpreter, workdir: directory, environment: variables)
        }
    }
}
