public import ArgumentParser
import Foundation
import ServiceModel
import SystemdProvisioning

extension SvcUnit {
    /// `svcunit stop SERVICE... [--timeout S] [--force]`: stops services and waits until their units are gone.
    ///
    /// Not obvious: stopping a service that is not running succeeds (it records admin state
    /// `inactive`, so it is not considered "should be running" any more).
    public struct Stop: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Stop services and wait until they have stopped.",
            discussion: """
                Several services stop concurrently. --force kills the processes (SIGKILL) instead of \
                asking them to stop (SIGTERM, then SIGKILL after the service's stop timeout).

                EXAMPLES
                  svcunit stop web
                  svcunit stop 3f2a 9c41 --force
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: ArgumentHelp("Services: UUID, unique UUID prefix, or name.", valueName: "service"))
        public var services: [String]

        @Option(help: ArgumentHelp("Seconds to wait for each service (default 30).", valueName: "seconds"))
        public var timeout: String = "30"

        @Flag(help: "Kill the processes with SIGKILL instead of stopping them gracefully.")
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
            try await Batch.run(targets, verb: "stopping") { target in
                try await systemd.stop(target.uuid, timeout: TimeParsing.duration(seconds), force: force)
                return "stopped \(target.label)"
            }
        }
    }
}
