public import ArgumentParser
import Foundation
import ServiceModel
import SystemdProvisioning

extension SvcUnit {
    /// `svcunit delete SERVICE... [--force]`: stops services if they run, then removes them from the store.
    ///
    /// Not obvious: the directory is removed only once systemd reports the unit gone, so a service
    /// that refuses to stop is kept (exit non-zero) rather than left running without its file.
    public struct Delete: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Stop services if needed and remove them from the store.",
            discussion: """
                EXAMPLES
                  svcunit delete web
                  svcunit delete 3f2a 9c41 --force
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: ArgumentHelp("Services: UUID, unique UUID prefix, or name.", valueName: "service"))
        public var services: [String]

        @Option(help: ArgumentHelp("Seconds to wait for each stop (default 30).", valueName: "seconds"))
        public var timeout: String = "30"

        @Flag(help: "Kill running processes with SIGKILL instead of stopping them gracefully.")
        public var force = false

        public init() {}

        public func validate() throws {
            if services.isEmpty { throw ValidationError("name at least one service") }
        }

        public func run() async throws {
            let context = CommandContext(global)
            let seconds = try TimeParsing.seconds(timeout, option: "--timeout")
            let targets = try context.lookup().resolveAll(services)
            let systemd = try await context.services(store: try context.store(create: false))
            let force = force
            try await Batch.run(targets, verb: "deleting") { target in
                try await systemd.delete(target.uuid, timeout: TimeParsing.duration(seconds), force: force)
                return "deleted \(target.label)"
            }
        }
    }
}
