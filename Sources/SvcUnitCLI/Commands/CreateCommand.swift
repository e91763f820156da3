public import ArgumentParser
import Foundation
import ServiceKinds
import ServiceModel

extension SvcUnit {
    /// `svcunit create command [options] -- ARGV...`: stores a `CommandService` that runs ARGV.
    ///
    /// Not obvious: ARGV is stored as an argv array and later exec'd directly (no shell), and
    /// `{port}` inside it is replaced by the endpoint port chosen at each start.
    public struct CreateCommand: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "command",
            abstract: "Store a service that runs a command.",
            discussion: """
                The command is run directly (no shell). {port} in an argument or an --env value is \
                replaced by the endpoint's port when the service starts. A --port or --protocol \
                without --health-path gets a TCP health check; --health-path gets an HTTP one.

                EXAMPLES
                  svcunit create command --name sleepy -- /bin/sleep 300
                  svcunit create command --name web --health-path / --protocol http \\
                      -- /usr/bin/python3 -m http.server {port} --bind 127.0.0.1
                  svcunit create command --env MODE=prod --workdir /srv/app --restart on-failure \\
                      --memory-max 256M --cpu-quota 50 -- ./server --port {port}
                """
        )

        @OptionGroup public var global: GlobalOptions
        @OptionGroup public var options: CreateOptions

        @Option(name: .customLong("env"), help: ArgumentHelp("An environment variable for the command (repeatable).", valueName: "name=value"))
        public var environment: [String] = []

        @Option(help: ArgumentHelp("The directory to run the command in.", valueName: "dir"))
        public var workdir: String?

        @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "argv"))
        public var argv: [String] = []

        public init() {}

        public func run() async throws {
            let context = CommandContext(global)
            guard let program = argv.first, !program.isEmpty else {
                throw CLIError.usage("no command given; put it after --, e.g. svcunit create command -- /bin/sleep 300")
            }
            var variables: [CommandService.EnvironmentVariable] = []
            for entry in environment {
                guard let eq = entry.firstIndex(of: "=") else {
                    throw CLIError.usage("--env \"\(entry)\" must be NAME=value")
                }
                let name = String(entry[..<eq])
                guard Self.isValidName(name) else {
                    throw CLIError.usage("--env \"\(entry)\": \"\(name)\" is not a valid variable name (letters, digits, _; not starting with a digit)")
                }
                variables.append(.init(name: name, value: String(entry[entry.index(after: eq)...])))
            }
            var directory: String?
            if let workdir {
                let path = GlobalOptions.absolute(workdir)
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw CLIError.usage("--workdir \(workdir) is not a directory")
                }
                directory = path
            }
            let flavor = CommandService.Config(command: argv, environment: variables, workingDirectory: directory)
            let config = try options.makeConfig(flavor: flavor)
            let endpoint = try options.makeEndpoint()
            if endpoint == nil, argv.contains(where: { $0.contains(CommandService.portPlaceholder) })
                || variables.contains(where: { $0.value.contains(CommandService.portPlaceholder) }) {
                throw CLIError.usage("the command uses {port} but the service has no endpoint; add --port, --protocol or --health-path")
            }
            let document = ServiceDocument(kind: CommandService.self, config: config, endpoint: endpoint)
            try options.store(document, context: context)
        }

        /// A POSIX-ish environment name: `[A-Za-z_][A-Za-z0-9_]*`.
        static func isValidName(_ name: String) -> Bool {
            guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
            return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
        }
    }
}
