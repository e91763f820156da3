public import ArgumentParser
import ServiceKinds
import ServiceModel

extension SvcUnit {
    /// `svcunit create sleeper --wake-up-after S`: stores ZenML's documentation sleeper.
    ///
    /// Not obvious: the sleeper exits 0 after S seconds, so with the default restart policy (no)
    /// its unit goes away by itself and `status` then reports it inactive with its `last_run`.
    public struct CreateSleeper: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "sleeper",
            _superCommandName: SvcUnit.toolName,
            abstract: "Store a service that sleeps and exits (ZenML's SleepingDaemon).",
            discussion: """
                EXAMPLES
                  svcunit create sleeper --wake-up-after 60
                  svcunit create sleeper --name nap --wake-up-after 5 --restart always --json
                """
        )

        @OptionGroup public var global: GlobalOptions
        @OptionGroup public var options: CreateOptions
        @OptionGroup(title: "Health supervision") public var health: HealthOptions

        @Option(parsing: .unconditional, help: ArgumentHelp("Seconds to sleep before exiting.", valueName: "seconds"))
        public var wakeUpAfter: String

        public init() {}

        public func run() async throws {
            let context = CommandContext(global)
            guard let seconds = Double(wakeUpAfter.hasSuffix("s") ? String(wakeUpAfter.dropLast()) : wakeUpAfter),
                  seconds.isFinite, seconds >= 0 else {
                throw CLIError.usage("--wake-up-after \"\(wakeUpAfter)\" must be a number of seconds, 0 or more")
            }
            let config = try options.makeConfig(flavor: SleepingDaemon.Config(wakeUpAfter: seconds))
            let endpoint = try options.makeEndpoint()
            var document = ServiceDocument(kind: SleepingDaemon.self, config: config, endpoint: endpoint)
            document.healthSupervision = try health.apply(to: nil)
            try HealthOptions.checkSupervisable(document)
            try options.store(document, context: context)
        }
    }
}
