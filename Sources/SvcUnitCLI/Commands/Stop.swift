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

        @OptionGroup public var selection: ServiceSelection

        @Flag(help: "Kill the processes with SIGKILL instead of stopping them gracefully.")
        public var force = false

        public init() {}

        public func run() async throws {
            let force = force
            try await Batch.run(global, selection, verb: "stopping") { target, systemd, timeout in
                try await systemd.stop(target.uuid, timeout: timeout, force: force)
                return "stopped \(target.label)"
            }
        }
    }
}
