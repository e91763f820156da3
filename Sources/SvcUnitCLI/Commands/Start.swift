public import ArgumentParser
import FoundationEssentials
import ServiceModel
import SystemdProvisioning

extension SvcUnit {
    /// `svcunit start SERVICE... [--timeout S]`: starts services and waits until each is active and healthy.
    ///
    /// Not obvious: success means *healthy*, not merely "systemd accepted the job": the command
    /// waits for the unit to be active and the endpoint's monitor to pass, and fails as soon as
    /// the unit fails (with its exit status and last output), without waiting for the timeout.
    public struct Start: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "start",
            _superCommandName: SvcUnit.toolName,
            abstract: "Start services and wait until they are active and healthy.",
            discussion: """
                Several services start concurrently. A service that is already running and healthy \
                counts as success ("already running"). On failure, one line per failed service gives \
                its last state and error; the exit status is that of the first failed service.

                EXAMPLES
                  svcunit start web
                  svcunit start 3f2a 9c41 --timeout 60
                """
        )

        @OptionGroup public var global: GlobalOptions

        @OptionGroup public var selection: ServiceSelection

        public init() {}

        public func run() async throws {
            try await Batch.run(global, selection, verb: "starting") { target, systemd, timeout in
                try await Self.start(target, systemd, timeout: timeout)
            }
        }

        static func start(_ target: ServiceLookup.Candidate, _ systemd: SystemdServices, timeout: Duration) async throws -> String {
            switch try await systemd.start(target.uuid, timeout: timeout) {
            case .started: "started \(target.label)\(Batch.endpointSuffix(systemd, target.uuid))"
            case .alreadyRunning: "\(target.label) is already running\(Batch.endpointSuffix(systemd, target.uuid))"
            }
        }
    }
}
