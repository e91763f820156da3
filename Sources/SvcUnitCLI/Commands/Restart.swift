public import ArgumentParser
import FoundationEssentials
import ServiceModel
import SystemdProvisioning

extension SvcUnit {
    /// `svcunit restart SERVICE... [--timeout S]`: stop, then start, each service.
    ///
    /// Not obvious: this is a stop followed by a fresh start (a new unit, a new port choice, a new
    /// invocation ID), not systemd's RestartUnit, so a changed service.json takes effect.
    public struct Restart: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "restart",
            _superCommandName: SvcUnit.toolName,
            abstract: "Stop services, then start them and wait until they are healthy.",
            discussion: """
                EXAMPLES
                  svcunit restart web
                  svcunit restart 3f2a 9c41 --timeout 60
                """
        )

        @OptionGroup public var global: GlobalOptions

        @OptionGroup public var selection: ServiceSelection

        public init() {}

        public func run() async throws {
            try await Batch.run(global, selection, verb: "restarting", Self.restart)
        }

        /// Stops the service, then starts it from its stored document; returns the success line.
        static func restart(_ target: ServiceLookup.Candidate, _ systemd: SystemdServices, _ timeout: Duration) async throws -> String {
            try await systemd.stop(target.uuid, timeout: timeout)
            _ = try await systemd.start(target.uuid, timeout: timeout)
            return "restarted \(target.label)\(Batch.endpointSuffix(systemd, target.uuid))"
        }
    }
}
