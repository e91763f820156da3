public import ArgumentParser
import FoundationEssentials
import OSCalls
import ServiceModel

/// The `svcunit` root command: configuration and the list of subcommands, nothing else.
///
/// Not obvious: commands run through `run(arguments:)` (the executable calls it via `mainStatus()`;
/// `main()` is replaced to do the same), so that every failure ends in a documented exit code (see
/// `ExitCodes`) and domain errors are printed as one `svcunit: error: …` line; argument-parser's
/// default would exit 64 for usage errors and print domain errors with its own prefix.
public struct SvcUnit: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: toolName,
        abstract: "Run ZenML-style local daemon services as systemd user units.",
        discussion: """
            svcunit reads and writes ZenML's service.json documents (the services schema of \
            zenml.services) and keeps what it does not use. A document ZenML 0.98 wrote (its \
            `type` is your LocalDaemonService subclass) runs that Python class in the interpreter \
            `svcunit register` records; svcunit's own kinds (command, sleeper) run in Swift. Each \
            service is stored as <root>/<uuid>/service.json and runs as the transient systemd \
            user unit svcunit-<uuid>.service. A SERVICE argument is a UUID, a unique UUID prefix, \
            or a name.

            EXAMPLES
              svcunit create command --name web --health-path / -- python3 -m http.server {port}
              svcunit start web && svcunit status web
              svcunit list
              svcunit logs web -f
              svcunit delete web

            ENVIRONMENT
              SVCUNIT_ROOT         the store directory (--root)
              SVCUNIT_ENTRYPOINT   the entrypoint executable (--entrypoint)
              SVCUNIT_PYTHON_RUNNER  the runner of Python services (default /usr/lib/svcunit/svcunit_zenml_runner.py)
              NO_COLOR             disables colours and the spinner

            EXIT STATUS
            \(ExitCodes.table)
            """,
        version: "0.1.0",
        subcommands: [
            Create.self, Register.self, Start.self, Stop.self, Restart.self, Status.self, List.self, Logs.self,
            SetCommand.self, Edit.self, Delete.self, Enable.self, Disable.self, Inspect.self, Health.self, HealthCheck.self,
        ]
    )

    public init() {}

    /// Parses `CommandLine.arguments`, runs the command and exits with its documented exit code.
    public static func main() async {
        CurrentProcess.exit(await mainStatus())
    }

    /// What `main()` exits with: the command line parsed and run, with `Interrupts` installed.
    public static func mainStatus() async -> Int32 {
        Interrupts.install()
        return await run(arguments: Array(CommandLine.arguments.dropFirst()))
    }

    /// Parses and runs `arguments` in-process and returns the exit status instead of exiting.
    /// Errors are printed to standard error.
    public static func run(arguments: [String]) async -> Int32 {
        do {
            // `start`, `stop` and `status` in their plain form skip argument-parser's reflection.
            if var plain = PlainCommandLine.command(arguments) {
                try await plain.run()
                return ExitCodes.ok.rawValue
            }
            var command = try parse(hoistingGlobalOptions(arguments))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return ExitCodes.ok.rawValue
        } catch {
            return report(error)
        }
    }

    /// `parseAsRoot`, with less of argument-parser's work where the command line cannot need it
    /// (`run(arguments:)` reads plain `start`, `stop` and `status` lines before this, without it:
    /// `PlainCommandLine`).
    ///
    /// - A subcommand without subcommands of its own (`start`, `stop`, `status`, `list`, `logs`,
    ///   `create command`, …) is parsed as a root of its own, on the arguments after its name. Under
    ///   `SvcUnit`, argument-parser would first parse the root (and a group such as `create`), and
    ///   on meeting each subcommand's name build that subcommand's argument set twice
    ///   (`includesPassthroughArguments`, a computed property it reads twice) before building it
    ///   again for its own parse: each build reflects the command's properties anew. Without them
    ///   a `svcunit start` runs 16.0M instructions instead of 17.3M (callgrind, BENCHMARKS.md).
    ///   `SvcUnit` and the groups (`groups`) have nothing of their own to parse, so nothing is lost.
    /// - Other command lines parse through `ParsingRoot`, the same tree under a super command's
    ///   name: argument-parser skips its check for `--generate-completion-script` for such a root,
    ///   which parses the command line twice more, as two commands of its own (1.2M).
    ///
    /// Both need the root that parses to name `svcunit` as its super command (`toolName`), or that
    /// check would run and help would name the wrong tool. What needs a message (a usage error,
    /// `--version`, the bare root, and help, which argument-parser returns as its own `help`
    /// command) is parsed again by `SvcUnit` itself, which produces the error or help as before.
    static func parse(_ arguments: [String]) throws -> any ParsableCommand {
        // What asks for a message goes to `SvcUnit` at once, so `--version` (the CLI's start-up
        // floor, benchmarked) and help are parsed once, as before.
        guard arguments.first != "help", !arguments.contains(where: { Self.messageRequests.contains($0) }),
              !arguments.contains(where: { $0.hasPrefix("--generate-completion-script") }) else {
            return try parseAsRoot(arguments)
        }
        if let (leaf, depth) = leafSubcommand(of: arguments), let command = try? leaf.parseAsRoot(Array(arguments.dropFirst(depth))) {
            return command
        }
        guard let command = try? ParsingRoot.parseAsRoot(arguments), !(command is ParsingRoot),
              type(of: command)._commandName != "help" else {
            return try parseAsRoot(arguments)
        }
        return command
    }

    /// The name of the tool, which every subcommand parsed as a root names as its super command.
    public static let toolName = "svcunit"

    /// The commands that only group subcommands: no options, arguments or validation of their own,
    /// so that `parse` may pass over them (`FastParseTests` checks that they have none).
    static let groups: [any ParsableCommand.Type] = [Create.self]

    /// The subcommand the command line names, and how many of its first arguments name it, when
    /// `parse` may parse it as a root: it has no subcommands of its own, names `svcunit` as its
    /// super command, and only groups lie between it and the root. Nil otherwise (aliases included).
    static func leafSubcommand(of arguments: [String]) -> (command: any ParsableCommand.Type, depth: Int)? {
        let path = commandPath(arguments)
        guard let leaf = path.last, leaf.configuration.subcommands.isEmpty, leaf.configuration._superCommandName == toolName,
              path.dropLast().allSatisfy({ command in groups.contains { ObjectIdentifier($0) == ObjectIdentifier(command) } })
        else { return nil }
        return (leaf, path.count)
    }

    /// The commands the first of `arguments` name, one level down each (`create`, `command`).
    static func commandPath(_ arguments: some Collection<String>) -> [any ParsableCommand.Type] {
        var path: [any ParsableCommand.Type] = []
        var commands = configuration.subcommands
        for argument in arguments {
            guard let command = commands.first(where: { $0._commandName == argument }) else { break }
            path.append(command)
            commands = command.configuration.subcommands
        }
        return path
    }

    /// argument-parser's own flags that end in a message: version, help, its help dump.
    static let messageRequests: Set<String> = ["--version", "--help", "-h", "-help", "--experimental-dump-help"]

    /// `SvcUnit`'s tree for `parse(_:)`; never run, never shown.
    struct ParsingRoot: ParsableCommand {
        static let configuration: CommandConfiguration = {
            var configuration = SvcUnit.configuration
            configuration._superCommandName = SvcUnit.toolName
            return configuration
        }()
    }

    /// The options of `GlobalOptions`, which may also be written before the subcommand.
    static let globalOptionNames: Set<String> = ["--root", "--entrypoint"]
    /// The flags of `GlobalOptions` (no value follows them).
    static let globalFlagNames: Set<String> = ["--verbose"]

    /// Moves `--root DIR`/`--entrypoint PATH`/`--verbose` written before the subcommand (`svcunit --root D list`)
    /// to just after the subcommand path, where argument-parser looks for the leaf command's options.
    /// Where the names lead to no command that takes them (`svcunit --root D bogus`, `… create`), they
    /// are left out: argument-parser would report them as unknown instead of what is wrong.
    static func hoistingGlobalOptions(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            let name = first.split(separator: "=", maxSplits: 1).first.map(String.init) ?? first
            guard globalOptionNames.contains(name) || globalFlagNames.contains(first) else { break }
            leading.append(first)
            rest = rest.dropFirst()
            if globalOptionNames.contains(name), !first.contains("="), let value = rest.first {
                leading.append(value)
                rest = rest.dropFirst()
            }
        }
        guard !leading.isEmpty else { return arguments }
        // The leaf's arguments begin after the subcommand names (e.g. `create command`).
        let path = commandPath(rest)
        guard let leaf = path.last, leaf.configuration.subcommands.isEmpty else { return Array(rest) }
        return Array(rest.prefix(path.count)) + leading + Array(rest.dropFirst(path.count))
    }

    /// Prints `error` the way svcunit documents and returns its exit status: `svcunit: error: …` and,
    /// for a failed start or stop, indented detail lines (see `ErrorReport`).
    static func report(_ error: any Error) -> Int32 {
        if let domain = ExitCodes.domainStatus(for: error) {
            Self.printError("svcunit: error: " + ErrorReport.lines(for: error).joined(separator: "\n"))
            return domain.rawValue
        }
        // Help, version, usage errors and `ExitCode`s thrown by commands.
        let message = fullMessage(for: error)
        let code = exitCode(for: error)
        if code == .success {
            if !message.isEmpty { print(message) }
            return 0
        }
        if !message.isEmpty {
            var text = message.hasPrefix("Error: ") ? "svcunit: error: " + message.dropFirst("Error: ".count) : Substring(message)
            // A usage error is one line, like every other (exit 2); argument-parser's "Usage:" and
            // "See --help" lines after it are left to `--help`.
            if code == .validationFailure, let first = text.split(separator: "\n", omittingEmptySubsequences: false).first {
                text = first
            }
            Self.printError(String(text))
        }
        return code == .validationFailure ? ExitCodes.usage.rawValue : code.rawValue
    }

    /// Writes an error to stderr, line by line escaped (`Output.escaped`): a domain error may quote a
    /// service's output or a document's values, an argument-parser error the command line.
    static func printError(_ text: String) {
        let escaped = Output.escapedLines(text)
        Output.writeStandardError(escaped.hasSuffix("\n") ? escaped : escaped + "\n")
    }
}
