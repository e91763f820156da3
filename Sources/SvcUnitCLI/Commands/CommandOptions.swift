public import ArgumentParser
import FoundationEssentials
import ServiceKinds
import ServiceModel

/// `--env`, `--workdir` and the command after `--`: what a command service runs, as `create
/// command` stores it and `set` changes it (for a Python service, `--env` and `--workdir` are the
/// ones svcunit keeps in the document's `svcunit` object).
///
/// Not obvious: `--env NAME=value` sets or replaces one variable and leaves the others, so `set`
/// can change one without repeating all; `create` starts from none.
public struct CommandOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("env"), help: ArgumentHelp("An environment variable for the command (repeatable).", valueName: "name=value"))
    public var environment: [String] = []

    @Option(help: ArgumentHelp("The directory to run the command in.", valueName: "dir"))
    public var workdir: String?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "argv"))
    public var argv: [String] = []

    public init() {}

    /// The `--env` entries as name/value pairs, in order.
    /// - Throws: `CLIError` (usage) for an entry without `=` or with a name that is not `[A-Za-z_][A-Za-z0-9_]*`.
    func variables() throws(CLIError) -> [(name: String, value: String)] {
        try environment.map { entry throws(CLIError) in
            guard let eq = entry.firstIndex(of: "=") else {
                throw CLIError.usage("--env \"\(entry)\" must be NAME=value")
            }
            let name = String(entry[..<eq])
            guard SvcUnitSettings.isEnvironmentName(name) else {
                throw CLIError.usage("--env \"\(entry)\": \"\(name)\" is not a valid variable name (letters, digits, _; not starting with a digit)")
            }
            return (name, String(entry[entry.index(after: eq)...]))
        }
    }

    /// `--workdir` as an absolute path, or nil when not given.
    /// - Throws: `CLIError` (usage) when it is not a directory.
    func directory() throws(CLIError) -> String? {
        guard let workdir else { return nil }
        let path = GlobalOptions.absolute(workdir)
        guard Paths.isDirectory(path) else { throw CLIError.usage("--workdir \(workdir) is not a directory") }
        return path
    }

    /// Applies the options given to a command service's config: a command after `--` replaces the
    /// command, `--env` sets each variable (replacing one of that name), `--workdir` the directory.
    func apply(to config: inout CommandService.Config) throws(CLIError) {
        if !argv.isEmpty {
            guard let program = argv.first, !program.isEmpty else { throw CLIError.usage("the command after -- is empty") }
            config.command = argv
        }
        for (name, value) in try variables() {
            if let index = config.environment.firstIndex(where: { $0.name == name }) {
                config.environment[index].value = value
            } else {
                config.environment.append(.init(name: name, value: value))
            }
        }
        if let directory = try directory() { config.workingDirectory = directory }
    }

    /// Whether any of these options was given.
    var isEmpty: Bool { environment.isEmpty && workdir == nil && argv.isEmpty }

    /// Refuses a command service whose command or environment uses `{port}` without an endpoint to
    /// take the port from.
    static func checkPortPlaceholder(_ document: ServiceDocument) throws(CLIError) {
        guard document.endpoint == nil, let config = document.flavorConfig(as: CommandService.Config.self) else { return }
        if config.command.contains(where: { $0.contains(CommandService.portPlaceholder) })
            || config.environment.contains(where: { $0.value.contains(CommandService.portPlaceholder) }) {
            throw CLIError.usage("the command uses {port} but the service has no endpoint; add --port, --protocol or --health-path")
        }
    }
}
