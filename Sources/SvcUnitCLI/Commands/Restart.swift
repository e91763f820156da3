public import ArgumentParser
import Foundation
import ServiceModel
import SystemdProvisioning

extension SvcUnit {
    /// `svcunit restart SERVICE... [--timeout S]`: stop, then start, each service.
    ///
    /// Not obvious: this is a stop followed by a fresh start (a new unit, a new port choice, a new
    /// invocation ID), not systemd's RestartUnit, so a changed service.json takes effect.
    public struct Restart: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Stop services, then start them and wait until they are healthy.",
            discussion: """
                EXAMPLES
                  svcunit restart web
                  svcunit restart 3f2a 9c41 --timeout 60
                """
        )

        @OptionGroup public var global: GlobalOptions

        @Argument(help: ArgumentHelp("Services: UUID, unique UUID prefix, or name.", valueName: "service"))
        public var services: [String]

        @Option(help: ArgumentHelp("Seconds to wait for each stop and each start (default 30).", valueName: "seconds"))
        public var timeout: String = "30"

        public init() {}

        public func validate() throws {
            if services.isEmpty { throw ValidationError("name at least one service") }
        }

        public func run() async throws {
            let context = CommandContext(global)
            let seconds = try TimeParsing.seconds(timeout, option: "--timeout")
            let targets = try context.lookup().resolveAll(services)
            let systemd = try await context.services(store: try context.store(create: false))
            try await Batch.run(targets, verb: "restarting") { target in
                try await systemd.stop(target.uuid, timeout: TimeParsing.duration(seconds))
                _ = try await systemd.start(target.uuid, timeout: TimeParsing.duration(seconds))
                return "restarted \(target.label)\(Batch.endpointSuffix(systemd, target.uuid))"
            }
        }
    }
}
