public import ArgumentParser
import FoundationEssentials
import ServiceKinds
import ServiceModel
import OSCalls

extension SvcUnit {
    /// `svcunit set SERVICE [create's options] [-- ARGV...]`: changes a stored service in place; its
    /// UUID (its identity for systemd and ZenML) stays.
    ///
    /// Not obvious: the options are `create`'s own (`CreateOptions`, `CommandOptions`), applied to
    /// the stored document instead of an empty one, so they are validated by the same code; the
    /// result is then read back as the store will read it, and only then replaces the file, under
    /// the service's lock. Options not given keep their values.
    public struct SetCommand: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "set",
            _superCommandName: SvcUnit.toolName,
            abstract: "Change a stored service's settings; its UUID stays.",
            discussion: """
                Takes the options of `create command` and changes only what is given: --port 9000 \
                keeps the health check, --health-path switches it to HTTP, --protocol tcp to TCP, \
                --env NAME=value sets one variable (--unset-env NAME removes one), a command after \
                -- replaces the command. Flags (--head, --silent, --no-allocate-port) can only be \
                turned on here; `svcunit edit` changes anything. Nothing is written when a value or \
                the resulting document is invalid (exit 2 or 5).

                A running service keeps running as it was started: it is told that the change \
                applies at its next start, or restarted with --restart-now. (--restart is the \
                restart policy, as in create.)

                A Python service (a ZenML class) has its configuration in the class's own fields: \
                set changes only what svcunit keeps for it, --python, --workdir and --env/--unset-env, \
                and the health supervision options.

                Health supervision (--health-interval, --unhealthy-after, --on-unhealthy, \
                --health-grace; --no-health-supervision) applies to every kind of service with an \
                endpoint monitor and reaches a running service at its next start.

                EXAMPLES
                  svcunit set web --port 9000 --health-path /health
                  svcunit set web --env MODE=dev --unset-env DEBUG --restart-now
                  svcunit set web -- python3 -m http.server {port} --bind 127.0.0.1
                  svcunit set my-zenml-service --python .venv/bin/python
                """
        )

        @OptionGroup public var global: GlobalOptions

        @OptionGroup public var change: ChangeOptions

        @OptionGroup public var options: CreateOptions

        @OptionGroup public var command: CommandOptions

        @OptionGroup(title: "Health supervision") public var health: HealthOptions

        @Flag(help: "Turn health supervision off.")
        public var noHealthSupervision = false

        @Option(name: .customLong("unset-env"), help: ArgumentHelp("Remove this environment variable (repeatable).", valueName: "name"))
        public var unsetEnvironment: [String] = []

        @Option(help: ArgumentHelp("A Python service's interpreter.", valueName: "path"))
        public var python: String?

        public init() {}

        public func run() async throws {
            let context = CommandContext(global)
            let wait = try change.wait()
            let target = try context.lookup().resolve(change.service)
            let store = try context.store(create: false)
            var label = target.label
            let (document, changed) = try store.withLock(target.uuid) { () throws -> (ServiceDocument, Bool) in
                let stored: ServiceDocument
                do { stored = try store.load(target.uuid, with: context.registry).document } catch {
                    throw ServiceChange.named(error, target.label)
                }
                label = stored.label
                do {
                    var document = stored
                    try apply(to: &document, environment: CurrentProcess.environmentVariables)
                    try HealthOptions.checkSupervisable(document)
                    let checked = try ServiceChange.validated(document, previous: stored, uuid: target.uuid, context: context, store: store)
                    guard checked.encoded() != stored.encoded() else { return (stored, false) }
                    try store.save(checked)
                    return (checked, true)
                } catch {
                    throw ServiceChange.named(error, label)
                }
            }
            if options.json {
                print(document.formatted(), terminator: "")
            } else {
                print(Output.escaped(changed ? "changed \(document.label)" : "no changes to \(document.label)"))
            }
            guard changed || change.restartNow else { return }
            try await ServiceChange.reach(target, label: document.label, context: context, store: store, restartNow: change.restartNow,
                                          timeout: wait, root: global.root, quiet: options.json)
        }

        /// The options given, applied to `document`. A Python service takes only what svcunit keeps.
        func apply(to document: inout ServiceDocument, environment: [String: String]) throws {
            for name in unsetEnvironment where !SvcUnitSettings.isEnvironmentName(name) {
                throw CLIError.usage("--unset-env \(name.debugDescription) is not a variable name (letters, digits and _)")
            }
            try applyHealth(to: &document)
            if document.isPython {
                let refused = options.given + (command.argv.isEmpty ? [] : ["a command after --"])
                if let first = refused.first {
                    throw CLIError.usage("\(first) is not svcunit's to change: a Python service (\(document.typeName ?? "")) is configured "
                                         + "by its class's own fields; set changes only --python, --workdir and --env/--unset-env (and the health supervision options)")
                }
                var settings = document.svcunit ?? SvcUnitSettings()
                if let python { settings.python = try Register.interpreter(python, environment: environment) }
                if let directory = try command.directory() { settings.workdir = directory }
                for (name, value) in try command.variables() {
                    settings.environment.removeAll { $0.key == name }
                    settings.environment.append((name, value))
                }
                settings.environment.removeAll { unsetEnvironment.contains($0.key) }
                document.svcunit = settings
                return
            }
            if python != nil {
                throw CLIError.usage("--python applies to Python services only; \(document.label) is svcunit's own \(document.className)")
            }
            try options.apply(to: &document.config)
            document.endpoint = try options.apply(to: document.endpoint)
            if var flavor = document.flavorConfig(as: CommandService.Config.self) {
                try command.apply(to: &flavor)
                flavor.environment.removeAll { unsetEnvironment.contains($0.name) }
                document.config.flavor = flavor
            } else if !command.isEmpty || !unsetEnvironment.isEmpty {
                throw CLIError.usage("--env, --unset-env, --workdir and a command apply to command services; "
                                     + "\(document.label) is a \(document.serviceType.type)/\(document.serviceType.flavor) service")
            }
        }
    }
}
