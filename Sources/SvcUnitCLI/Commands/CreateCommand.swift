public import ArgumentParser
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
            _superCommandName: SvcUnit.toolName,
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
        @OptionGroup(title: "Health supervision") public var health: HealthOptions

        @OptionGroup public var command: CommandOptions

        public init() {}

        public func run() async throws {
            let context = CommandContext(global)
            guard let program = command.argv.first, !program.isEmpty else {
                throw CLIError.usage("no command given; put it after --, e.g. svcunit create command -- /bin/sleep 300")
            }
            var flavor = CommandService.Config(command: command.argv)
            try command.apply(to: &flavor)
            let config = try options.makeConfig(flavor: flavor)
            var document = ServiceDocument(kind: CommandService.self, config: config, endpoint: try options.makeEndpoint())
            document.healthSupervision = try health.apply(to: nil)
            try CommandOptions.checkPortPlaceholder(document)
            try HealthOptions.checkSupervisable(document)
            try options.store(document, context: context)
        }
    }
}
